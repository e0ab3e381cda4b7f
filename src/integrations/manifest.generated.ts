// Generated from the registry (src/integrations/index.ts) by `npm run integrations:manifest`: do not edit.
// test/unit/integration-manifest.test.ts fails when it is out of date with the declarations.
/**
 * The integrations as workflow code sees them (src/integrations/kit/view.ts): activity names, idempotency,
 * lookups, profiles and key retention, without the declarations and their zod schemas, which workflow code
 * must not load (every cached workflow would evaluate its own copy). Their types come from the declarations.
 */
import type { fileDropIntegrations, IntegrationName, integrations } from '.';
import { fileDropView, integrationView } from './kit/view';

type Registry = typeof integrations;
type FileDropRegistry = typeof fileDropIntegrations;

/** The registered names, in registry order. */
export const integrationNames: IntegrationName[] = ['payments', 'documents', 'email', 'crm', 'crmv2', 'inventory'];

export const integrationViews = {
  payments: integrationView<Registry['payments']>({
    "name": "payments",
    "idempotency": {
      "retention": "24 hours"
    },
    "endpoints": {
      "hello": {
        "activity": "paymentsHello",
        "idempotency": "safe",
        "profile": "userFlow"
      },
      "createPayment": {
        "activity": "paymentsCreatePayment",
        "idempotency": "key",
        "profile": "userFlow",
        "lookup": {
          "endpoint": "findPayment",
          "input": {
            "query": {
              "correlationId": "<key>"
            }
          }
        }
      },
      "findPayment": {
        "activity": "paymentsFindPayment",
        "idempotency": "safe",
        "profile": "background",
        "overrides": {
          "scheduleToClose": "5 minutes"
        }
      },
      "refundPayment": {
        "activity": "paymentsRefundPayment",
        "idempotency": "key",
        "profile": "background",
        "overrides": {
          "scheduleToClose": "2 hours"
        }
      }
    }
  }),
  documents: integrationView<Registry['documents']>({
    "name": "documents",
    "idempotency": {
      "retention": "24 hours"
    },
    "endpoints": {
      "generate": {
        "activity": "documentsGenerate",
        "idempotency": "key",
        "profile": "background"
      },
      "getJob": {
        "activity": "documentsGetJob",
        "idempotency": "safe",
        "profile": "background"
      }
    },
    "pollers": {
      "awaitJob": {
        "endpoint": "getJob",
        "heartbeat": "documentsAwaitJob",
        "once": "documentsAwaitJobOnce"
      }
    }
  }),
  email: integrationView<Registry['email']>({
    "name": "email",
    "idempotency": {
      "retention": "24 hours"
    },
    "endpoints": {
      "send": {
        "activity": "emailSend",
        "idempotency": "key",
        "profile": "background"
      },
      "sendBatch": {
        "activity": "emailSendBatch",
        "idempotency": "key",
        "profile": "background"
      }
    }
  }),
  crm: integrationView<Registry['crm']>({
    "name": "crm",
    "idempotency": {
      "retention": "24 hours"
    },
    "endpoints": {
      "getCustomer": {
        "activity": "crmGetCustomer",
        "idempotency": "safe",
        "profile": "userFlow"
      },
      "listCustomers": {
        "activity": "crmListCustomers",
        "idempotency": "safe",
        "profile": "background"
      },
      "updateCustomer": {
        "activity": "crmUpdateCustomer",
        "idempotency": "key",
        "profile": "background"
      }
    }
  }),
  crmv2: integrationView<Registry['crmv2']>({
    "name": "crmv2",
    "endpoints": {
      "getCustomer": {
        "activity": "crmv2GetCustomer",
        "idempotency": "safe",
        "profile": "userFlow"
      }
    }
  }),
  inventory: integrationView<Registry['inventory']>({
    "name": "inventory",
    "idempotency": {
      "retention": "24 hours"
    },
    "endpoints": {
      "getItem": {
        "activity": "inventoryGetItem",
        "idempotency": "safe",
        "profile": "userFlow"
      },
      "getItemPartial": {
        "activity": "inventoryGetItemPartial",
        "idempotency": "safe",
        "profile": "background"
      },
      "reserveStock": {
        "activity": "inventoryReserveStock",
        "idempotency": "key",
        "profile": "background"
      }
    }
  }),
} as const;

export const fileDropViews = {
  payroll: fileDropView<FileDropRegistry['payroll']>({
    "name": "payroll",
    "endpoints": {
      "uploadPayroll": {
        "activity": "payrollUploadPayroll",
        "kind": "upload",
        "profile": "background"
      },
      "awaitAnswer": {
        "activity": "payrollAwaitAnswer",
        "kind": "awaitFile",
        "profile": "background",
        "interval": "30 seconds"
      }
    }
  }),
} as const;
