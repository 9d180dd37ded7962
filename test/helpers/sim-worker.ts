/** A simulated worker that joins as a real one does: a CSR and the join secret, then mutual TLS. */
import {
  CertificateSource,
  TLS_CHANNEL_OPTIONS,
  channelCredentials,
  createWorkerClient,
  newKeyAndCsr,
  parseJoinToken,
  unary,
  type wire,
} from '@warren/api';

export async function joinSimulated(
  address: string,
  token: string,
  caPem: string,
  registration: { name: string; hostname?: string; images?: string[] },
): Promise<{ client: wire.WorkerServiceClient; nodeId: string }> {
  const { keyPem, csrPem } = await newKeyAndCsr();
  const joining = createWorkerClient(address, channelCredentials({ caPem }), TLS_CHANNEL_OPTIONS);
  try {
    const request = { hostname: 'sim', images: [], ...registration, token: parseJoinToken(token).secret, csr: csrPem };
    const res = await unary<wire.RegisterRequest, wire.RegisterResponseOut>(joining.Register, joining, request);
    const source = new CertificateSource(caPem, res.certificate, keyPem);
    return {
      client: createWorkerClient(address, channelCredentials(source), TLS_CHANNEL_OPTIONS),
      nodeId: res.nodeId,
    };
  } finally {
    joining.close();
  }
}
