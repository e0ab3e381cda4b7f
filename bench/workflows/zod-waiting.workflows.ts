// The waiting workflow plus zod and one schema: what zod alone costs every cached workflow.
import { z } from 'zod';

export { benchWait } from './waiting.workflows';
export const schema = z.object({ to: z.string().email(), subject: z.string() });
