# One image for this project's processes (worker, sandbox; later the webhook receiver).
# The command picks the process: see docker-compose.yml.
FROM node:20.18.1-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
USER node
CMD ["node", "--import", "tsx", "src/workers/main.ts"]
