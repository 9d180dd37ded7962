/**
 * The protocol at run time: gRPC service definitions built from the descriptor scripts/gen-types
 * parsed from proto/, with protobufjs' light build (no .proto parser is loaded, nothing is
 * parsed at start). Messages become plain objects exactly as @grpc/proto-loader makes them
 * (`toObject` with PROTO_LOAD_OPTIONS, `fromObject` then `encode`), the shapes its
 * proto-loader-gen-types typed; proto-loader itself is not loaded: building its reflection
 * descriptors for every message cost each CLI process ~60 ms (measured, issue 19), for nothing
 * a client uses. A unit test checks every method against proto-loader on the .proto itself.
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs/light.js';
import type { ProtoGrpcType } from './generated/warren.js';
import { CONTROL_DESCRIPTOR, DESCRIPTOR } from './generated/descriptor.js';

/** proto-loader's load options, as scripts/gen-types gives them to proto-loader-gen-types. */
export const PROTO_LOAD_OPTIONS = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;

const PACKAGE = 'warren.v1';

type Package = ProtoGrpcType['warren']['v1'];
let loaded: Package | undefined;
let control: Pick<Package, 'ControlService'> | undefined;

/** The `warren.v1` package: its services' definitions and client constructors. Built once. */
export function warrenProto(): Package {
  return (loaded ??= build(DESCRIPTOR) as Package);
}

/**
 * The ControlService alone, from the part of the descriptor it uses: what a CLI builds (half the
 * message types, measured 15 ms less at every command). The same definitions as warrenProto's.
 */
export function controlProto(): Pick<Package, 'ControlService'> {
  return loaded ?? (control ??= build(CONTROL_DESCRIPTOR) as Pick<Package, 'ControlService'>);
}

function build(descriptor: object): Partial<Package> {
  const root = protobuf.Root.fromJSON(descriptor as protobuf.INamespace);
  const services = root.lookup(PACKAGE) as protobuf.Namespace;
  const definition: Parameters<typeof grpc.loadPackageDefinition>[0] = {};
  for (const service of services.nestedArray) {
    if (!(service instanceof protobuf.Service)) continue;
    const methods = service.methodsArray.map((m) => [m.name, methodDefinition(root, service.name, m)]);
    definition[`${PACKAGE}.${service.name}`] = Object.fromEntries(methods) as grpc.ServiceDefinition;
  }
  return (grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType).warren.v1;
}

/** A method as proto-loader defines it; message types are resolved on first use. */
function methodDefinition(
  root: protobuf.Root,
  service: string,
  m: protobuf.Method,
): grpc.MethodDefinition<object, object> {
  const type = lazyType(root, m.requestType);
  const responseType = lazyType(root, m.responseType);
  return {
    path: `/${PACKAGE}.${service}/${m.name}`,
    requestStream: m.requestStream === true,
    responseStream: m.responseStream === true,
    requestSerialize: serializer(type),
    requestDeserialize: deserializer(type),
    responseSerialize: serializer(responseType),
    responseDeserialize: deserializer(responseType),
    originalName: m.name.charAt(0).toLowerCase() + m.name.slice(1),
  };
}

function lazyType(root: protobuf.Root, name: string): () => protobuf.Type {
  let type: protobuf.Type | undefined;
  return () => (type ??= root.lookupType(`${PACKAGE}.${name}`));
}

function serializer(type: () => protobuf.Type): (value: object) => Buffer {
  return (value) => {
    if (Array.isArray(value)) throw new Error(`cannot serialize an array as ${type().name}`);
    // In Node, protobufjs writes into a Buffer.
    return type().encode(type().fromObject(value)).finish() as Buffer;
  };
}

function deserializer(type: () => protobuf.Type): (bytes: Buffer) => object {
  return (bytes) => type().toObject(type().decode(bytes), PROTO_LOAD_OPTIONS);
}
