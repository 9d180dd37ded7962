import { ValidationError } from './errors.js';

/** Credentials for a registry, as `--with-registry-auth` sends them. Never logged or shown. */
export interface RegistryAuth {
  username: string;
  password: string;
  serverAddress: string;
}

/** Credentials as sent with --with-registry-auth: a user name, a password, short enough to be sane. */
export function validateRegistryAuth(auth: RegistryAuth): RegistryAuth {
  if (auth.username === '' || auth.username.length > 256 || auth.password.length > 4096) {
    throw new ValidationError(
      '--with-registry-auth',
      '(credentials)',
      'need a user name and a password of sane length',
    );
  }
  if (auth.serverAddress.length > 512) {
    throw new ValidationError('--with-registry-auth', auth.serverAddress, 'not a registry address');
  }
  return auth;
}
