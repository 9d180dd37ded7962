/** `@warren/api/tls`: gRPC credentials from certificate files a CLI or node holds (no certificate library). */
export { CertificateSource, TLS_CHANNEL_OPTIONS, channelCredentials } from '../pki/credentials.js';
