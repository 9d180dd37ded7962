/** Files of a client certificate directory (`--tls-dir`), named as Docker's DOCKER_CERT_PATH. */
export const TLS_FILES = { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' };
