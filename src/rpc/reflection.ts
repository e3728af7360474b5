/**
 * gRPC server reflection, v1 and v1alpha, on Connect: what lets `buf curl` and grpcurl call the
 * service with no .proto files at hand. Answers list_services, file_by_filename and
 * file_containing_symbol with each file and its transitive dependencies; anything it cannot
 * answer becomes an error_response on the stream, never a failed call.
 */
import { type DescFile, type DescMessage, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** v1 and v1alpha messages have the same shape; the logic works on v1's. */
type Request = v1.ServerReflectionRequest;
type Answer = v1.ServerReflectionResponse["messageResponse"];

/** The reflection files themselves: reflection describes itself too. */
const reflectionFiles: DescFile[] = [
  v1.file_grpc_reflection_v1_reflection,
  v1alpha.file_grpc_reflection_v1alpha_reflection,
];

/** Registers both reflection services on `router`, describing `files` (and what they import). */
export function registerReflection(router: ConnectRouter, files: DescFile[]): void {
  const all = [...files, ...reflectionFiles];
  const index = buildIndex(all);
  const services = all.flatMap((file) => file.services.map((service) => service.typeName));

  const answer = (req: Request): Answer => {
    const request = req.messageRequest;
    switch (request.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: services.map((name) => ({ name })) } as never };
      case "fileByFilename":
        return filesAnswer(index.byFilename.get(request.value), `file "${request.value}" not found`);
      case "fileContainingSymbol":
        return filesAnswer(index.bySymbol.get(request.value.replace(/^\./, "")), `symbol "${request.value}" not found`);
      case "fileContainingExtension":
        return notFound(`extension ${request.value.extensionNumber} of "${request.value.containingType}" not found`);
      case "allExtensionNumbersOfType": {
        const message = index.messages.get(request.value);
        if (!message) return notFound(`type "${request.value}" not found`);
        return {
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: request.value, extensionNumber: [] } as never,
        };
      }
      default:
        return {
          case: "errorResponse",
          value: { errorCode: Code.InvalidArgument, errorMessage: "empty request" } as never,
        };
    }
  };

  const filesAnswer = (file: DescFile | undefined, missing: string): Answer => {
    if (!file) return notFound(missing);
    const fileDescriptorProto = withDependencies(file).map((f) => toBinary(FileDescriptorProtoSchema, f.proto));
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto } as never };
  };

  const impl = {
    async *serverReflectionInfo(requests: AsyncIterable<Request>) {
      for await (const req of requests) {
        yield { validHost: req.host, originalRequest: req, messageResponse: answer(req) };
      }
    },
  };
  router.service(v1.ServerReflection, impl);
  router.service(v1alpha.ServerReflection, impl as never);
}

function notFound(message: string): Answer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: message } as never };
}

/** The file first, then every file it imports, transitively, each once. */
function withDependencies(file: DescFile): DescFile[] {
  const seen = new Map<string, DescFile>();
  const visit = (f: DescFile) => {
    if (seen.has(f.proto.name)) return;
    seen.set(f.proto.name, f);
    for (const dependency of f.dependencies) visit(dependency);
  };
  visit(file);
  return [...seen.values()];
}

function buildIndex(files: DescFile[]) {
  const byFilename = new Map<string, DescFile>();
  const bySymbol = new Map<string, DescFile>();
  const messages = new Map<string, DescMessage>();
  const addMessage = (file: DescFile, message: DescMessage) => {
    messages.set(message.typeName, message);
    bySymbol.set(message.typeName, file);
    for (const field of message.fields) bySymbol.set(`${message.typeName}.${field.name}`, file);
    for (const oneof of message.oneofs) bySymbol.set(`${message.typeName}.${oneof.name}`, file);
    for (const nested of message.nestedMessages) addMessage(file, nested);
    for (const nested of message.nestedEnums) bySymbol.set(nested.typeName, file);
  };
  for (const root of files) {
    for (const file of withDependencies(root)) {
      byFilename.set(file.proto.name, file);
      for (const service of file.services) {
        bySymbol.set(service.typeName, file);
        for (const method of service.methods) bySymbol.set(`${service.typeName}.${method.name}`, file);
      }
      for (const message of file.messages) addMessage(file, message);
      for (const enumeration of file.enums) bySymbol.set(enumeration.typeName, file);
      for (const extension of file.extensions) bySymbol.set(extension.typeName, file);
    }
  }
  return { byFilename, bySymbol, messages };
}
