import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/warren.js';

/** The load options; scripts/gen-types passes the same ones to proto-loader-gen-types. */
export const PROTO_LOAD_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [fileURLToPath(new URL('../../../proto', import.meta.url))],
};

let loaded: ProtoGrpcType['warren']['v1'] | undefined;

/** The `warren.v1` package: service definitions and client constructors. Loaded once. */
export function warrenProto(): ProtoGrpcType['warren']['v1'] {
  if (!loaded) {
    const definition = protoLoader.loadSync('warren/v1/warren.proto', PROTO_LOAD_OPTIONS);
    loaded = (grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType).warren.v1;
  }
  return loaded;
}
