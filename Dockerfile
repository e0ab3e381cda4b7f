# One image for this project's processes (worker, sandbox, webhook receiver, codec server), compiled: no tsx
# and no sources at run time. The command picks the process: see docker-compose.yml.

# Build: the compiled code (npm run build), then the prebuilt workflow bundles (npm run build:workflows),
# whose manifests record the compiled code's hash: a worker uses a bundle only beside the code it was built
# with, else it bundles at start and logs why (src/workers/workflow-bundle.ts). Both tracing choices.
FROM node:20.18.1-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build && npm run build:workflows && TRACING_EXPORTER=otlp npm run build:workflows

FROM node:20.18.1-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
USER node
CMD ["node", "dist/workers/main.js"]
