// The OpenAPI document of the HTTP API: what the server serves at /api/openapi.json is the checked-in
// one, an OpenAPI 3.1 validator finds it valid, and it describes exactly the operations the server
// answers — every documented one is served, every other method on its paths is 405. (That real
// answers match its schemas is checked on every call the HTTP API tests make: support/http-api.ts.)
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openApiDocument } from "../../src/http/openapi.js";
import { backends } from "../support/databases.js";
import { type ApiCall, apiCaller } from "../support/http-api.js";
import { type RunningServer, startServer } from "../support/server.js";

describe.each(backends())("the OpenAPI document on $name", (backend) => {
  let server: RunningServer;
  let api: ApiCall;
  beforeAll(async () => {
    server = await startServer(backend);
    api = apiCaller({ port: server.port, version: "1.1" });
  });
  afterAll(async () => server?.stop());

  it("is served at /api/openapi.json and is valid OpenAPI 3.1", async () => {
    const served = await api("GET", "/api/openapi.json");
    expect(served.status).toBe(200);
    expect(served.body).toEqual(JSON.parse(JSON.stringify(openApiDocument)));
    const validator = new Validator();
    const result = await validator.validate(served.body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("names exactly the operations the server answers", async () => {
    await api("PUT", "/api/sessions/postgres/sessions/doc", { body: { session_data: {} } });
    for (const [template, item] of Object.entries(openApiDocument.paths)) {
      const path = template.replace("{session_id}", "doc");
      const documented = ["get", "put", "post", "delete"].filter((method) => method in item);
      for (const method of ["GET", "POST", "PATCH", "PUT", "DELETE"]) {
        // PUT and POST carry a body their endpoint accepts; DELETE runs last on the session.
        const body = method === "PUT" ? { session_data: {} } : undefined;
        const answer = await api(method, path, { body });
        if (documented.includes(method.toLowerCase())) {
          expect(answer.status, `${method} ${template}`).toBeLessThan(300);
        } else {
          expect([answer.status, answer.headers.allow], `${method} ${template}`).toEqual([
            405,
            documented.map((name) => name.toUpperCase()).join(", "),
          ]);
        }
      }
    }
  });
});
