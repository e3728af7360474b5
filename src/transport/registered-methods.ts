/**
 * What the routes register, method by method: the transport serves some calls itself (see
 * unary-adapter.ts) and must know each method's descriptor and implementation, while the routes
 * only know how to register themselves on a ConnectRouter. Recording the registration — on the
 * real router, through connect-es's public createServiceImplSpec / createMethodImplSpec — keeps one
 * list of what is served, and leaves nothing to wire twice in src/app.ts.
 */
import {
  type ConnectRouter,
  createMethodImplSpec,
  createServiceImplSpec,
  type MethodImplSpec,
} from "@connectrpc/connect";

/** Request path ("/package.Service/Method") → the method and its implementation. */
export type RegisteredMethods = ReadonlyMap<string, MethodImplSpec>;

/**
 * Runs `routes` on `router` and returns every method registered without per-service options. A
 * service registered with options of its own (other interceptors, limits…) is left out: only
 * connect-es knows how to apply those, so its calls stay on connect-es.
 */
export function registerRoutes(router: ConnectRouter, routes: (router: ConnectRouter) => void): RegisteredMethods {
  const methods = new Map<string, MethodImplSpec>();
  const add = (spec: MethodImplSpec) => methods.set(`/${spec.method.parent.typeName}/${spec.method.name}`, spec);
  const recording: ConnectRouter = {
    get handlers() {
      return router.handlers;
    },
    service(service, implementation, options) {
      router.service(service, implementation, options);
      if (options === undefined) {
        for (const spec of Object.values(createServiceImplSpec(service, implementation).methods)) add(spec);
      }
      return recording;
    },
    rpc(method, implementation, options) {
      router.rpc(method, implementation, options);
      if (options === undefined) add(createMethodImplSpec(method, implementation));
      return recording;
    },
  };
  routes(recording);
  return methods;
}
