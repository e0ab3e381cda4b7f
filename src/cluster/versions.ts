/**
 * The Temporal server release the cluster runs, pinned here and nowhere else. v1.29.1 is the server the
 * pinned CLI (src/devserver/temporal-cli.ts, v1.5.1) embeds, so the dev server and the cluster run the same
 * server code; its go.mod has no `replace` directive, so `go install` builds it. The schemas the SQL tool
 * applies come from this same module (its `schema/postgresql/v12/`), so they always match the binary.
 */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';

/** The Web UI server the pinned CLI embeds (ui-server v2.42.1); optional part of the cluster. */
export const TEMPORAL_UI_SERVER_VERSION = 'v2.42.1';
export const TEMPORAL_UI_SERVER_MODULE = 'github.com/temporalio/ui-server/v2';
