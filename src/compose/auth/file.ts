// auth.provider file: HTTP Basic checked against the hashed passwords of auth.file (reloaded on change).
import { FileAuthProvider } from '../../auth/file-provider.js';
import type { AuthProviderKind } from './kind.js';

export const fileAuth: AuthProviderKind = {
  build({ config, log }, gate) {
    return FileAuthProvider.open(config.auth.file, {
      onReload: (count) => log.info({ count }, 'auth.reloaded'),
      onReloadError: (message) => log.error({ err: message }, 'auth.reload_failed'),
    }, gate);
  },
};
