/**
 * `@warren/api/light`: constants and checks that load nothing heavy, for the CLI's flag
 * definitions: the version, the default addresses, the join token's format.
 */
export { VERSION } from '../version.js';
export { DEFAULT_MANAGER_ADDRESS, DEFAULT_MANAGER_HTTP_ADDRESS } from '../addresses.js';
export { parseJoinToken } from '../pki/token.js';
