// HTTP 415 says why: a POST in a content type the port does not speak — none, text/plain, curl's
// form encoding — gets a Connect error body naming the ones it does, on HTTP/1.1 and HTTP/2.
import http from "node:http";
import http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embedded } from "../support/databases.js";
import { type RunningServer, startServer } from "../support/server.js";

const save = "/isotope.session.v1.SessionService/Save";
const body = JSON.stringify({ sessionId: "s", data: { n: 1 } });

interface Answer {
  status: number;
  contentType: string | undefined;
  body: string;
}

function h1(port: number, headers: http.OutgoingHttpHeaders): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: "127.0.0.1", port, path: save, method: "POST", headers, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            contentType: response.headers["content-type"],
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

async function h2(url: string, headers: http2.OutgoingHttpHeaders): Promise<Answer> {
  const session = http2.connect(url);
  try {
    return await new Promise<Answer>((resolve, reject) => {
      const stream = session.request({ ":method": "POST", ":path": save, ...headers });
      let status = 0;
      let contentType: string | undefined;
      const chunks: Buffer[] = [];
      stream.on("response", (fields) => {
        status = Number(fields[":status"]);
        contentType = fields["content-type"];
      });
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => resolve({ status, contentType, body: Buffer.concat(chunks).toString() }));
      stream.on("error", reject);
      stream.end(body);
    });
  } finally {
    session.close();
  }
}

describe("a POST in a content type the port does not speak", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(embedded);
  });
  afterAll(async () => server.stop());

  const cases: Array<[string, http.OutgoingHttpHeaders, string]> = [
    ["text/plain", { "content-type": "text/plain" }, 'content-type \\"text/plain\\" is not supported'],
    ["no content type", {}, "no content-type is not supported"],
    ["curl's form encoding", { "content-type": "application/x-www-form-urlencoded" }, "x-www-form-urlencoded"],
  ];

  it.each(cases)("is HTTP 415 with a JSON reason over HTTP/1.1 and HTTP/2: %s", async (_, headers, says) => {
    for (const answer of [await h1(server.port, headers), await h2(server.url, headers)]) {
      expect(answer.status).toBe(415);
      expect(answer.contentType).toBe("application/json");
      expect(answer.body).toContain(says);
      const error = JSON.parse(answer.body) as { code: string; message: string };
      expect(error.code).toBe("unimplemented");
      expect(error.message).toContain("application/json");
      expect(error.message).toContain("application/grpc");
    }
  });

  it("leaves the content types it speaks alone", async () => {
    const answer = await h1(server.port, { "content-type": "application/json" });
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('"sessionId":"s"');
  });
});
