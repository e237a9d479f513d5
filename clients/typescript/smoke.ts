// A smoke test of a TypeScript client generated from ../../openapi.yaml:
// openapi-typescript turns the spec into gen/schema.d.ts, openapi-fetch is the
// runtime, and every call below is typed by the generated `paths`. It runs
// against a live server: BASE_URL (the server's public URL; the spec's server
// path /v1.0 is appended) and TOKEN (a bearer token with
// OnlineMeetings.ReadWrite). Any mismatch exits 1 with the step, the status
// and the body. check.sh builds and runs it; see `make client-check`.
import { randomUUID } from "node:crypto";
import createClient from "openapi-fetch";
import type { components, paths } from "./gen/schema.js";

type Meeting = components["schemas"]["onlineMeeting"];
type GraphError = components["schemas"]["odataError"];

// Compile-time checks that the generated types are real, not `any`: each
// staticAssert<…>() fails `tsc` when its condition is false.
type IsAny<T> = 0 extends 1 & T ? true : false;
type Not<B extends boolean> = B extends true ? false : true;
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function staticAssert<_ extends true>(): void {}
staticAssert<Not<IsAny<Meeting>>>();
staticAssert<Equal<Meeting["id"], string>>();
staticAssert<Equal<GraphError["error"]["code"], string>>();

const baseUrl = process.env["BASE_URL"];
const token = process.env["TOKEN"];
if (!baseUrl || !token) {
  console.error("smoke: set BASE_URL (e.g. http://127.0.0.1:8080) and TOKEN");
  process.exit(2);
}

class Mismatch extends Error {}

function check(cond: boolean, step: string, what: string, res?: { response: Response; data?: unknown; error?: unknown }): asserts cond {
  if (cond) return;
  let msg = `${step}: ${what}`;
  if (res) msg += `\n  status ${res.response.status}\n  body ${JSON.stringify(res.data ?? res.error)}`;
  throw new Mismatch(msg);
}

// The organizer must be the token's user: its oid, read from the JWT payload.
const claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { oid?: unknown };
const oid = claims.oid;

const client = createClient<paths>({
  baseUrl: baseUrl.replace(/\/+$/, "") + "/v1.0",
  headers: { Authorization: `Bearer ${token}` },
});

async function main(): Promise<void> {
  // --- create
  let step = "POST /me/onlineMeetings";
  const subject = `ts-client smoke ${randomUUID()}`;
  const created = await client.POST("/me/onlineMeetings", {
    body: {
      subject,
      startDateTime: "2026-12-01T10:00:00.1234567+01:00",
      endDateTime: "2026-12-01T11:00:00+01:00",
    },
  });
  check(created.response.status === 201, step, "want 201", created);
  check(created.data !== undefined, step, "no body", created);
  const meeting: Meeting = created.data;
  const id: string = meeting.id;
  check(typeof id === "string" && id.length > 0, step, "id missing", created);
  check(typeof meeting.joinWebUrl === "string" && meeting.joinWebUrl.startsWith("https://teams.microsoft.com/l/meetup-join/"), step, `joinWebUrl ${JSON.stringify(meeting.joinWebUrl)}`, created);
  const joinWebUrl: string = meeting.joinWebUrl;
  check(meeting.subject === subject, step, `subject ${JSON.stringify(meeting.subject)}`, created);
  check(meeting.startDateTime === "2026-12-01T09:00:00.1234567Z", step, `startDateTime ${JSON.stringify(meeting.startDateTime)}`, created);
  const organizer = meeting.participants?.organizer;
  check(organizer?.role === "presenter", step, `organizer role ${JSON.stringify(organizer?.role)}`, created);
  check(organizer?.identity?.user?.id === oid, step, `organizer ${JSON.stringify(organizer?.identity?.user?.id)}, want the token's oid ${JSON.stringify(oid)}`, created);
  check(created.response.headers.get("request-id") !== null, step, "no request-id header", created);

  // --- get (the id may hold '/' or '+': openapi-fetch escapes path parameters)
  step = "GET /me/onlineMeetings/{meetingId}";
  const got = await client.GET("/me/onlineMeetings/{meetingId}", { params: { path: { meetingId: id } } });
  check(got.response.status === 200 && got.data !== undefined, step, "want 200", got);
  check(got.data.id === id && got.data.subject === subject && got.data.joinWebUrl === joinWebUrl, step, "not the created meeting", got);

  // --- patch
  step = "PATCH /me/onlineMeetings/{meetingId}";
  const renamed = `${subject} (renamed)`;
  const patched = await client.PATCH("/me/onlineMeetings/{meetingId}", {
    params: { path: { meetingId: id } },
    body: { subject: renamed },
  });
  check(patched.response.status === 200 && patched.data !== undefined, step, "want 200", patched);
  check(patched.data.id === id && patched.data.subject === renamed, step, `subject ${JSON.stringify(patched.data.subject)}`, patched);

  // --- list by join URL ($filter is the query parameter's name, as in the spec)
  step = "GET /me/onlineMeetings?$filter=JoinWebUrl eq '…'";
  const listed = await client.GET("/me/onlineMeetings", {
    params: { query: { $filter: `JoinWebUrl eq '${joinWebUrl.replaceAll("'", "''")}'` } },
  });
  check(listed.response.status === 200 && listed.data !== undefined, step, "want 200", listed);
  const found: Meeting[] = listed.data.value;
  check(found.length === 1 && found[0]?.id === id && found[0].subject === renamed, step, `want exactly the meeting, got ${found.length}`, listed);

  // --- createOrGet: 201, then 200 with the same meeting, unchanged
  step = "POST /me/onlineMeetings/createOrGet";
  const externalId = randomUUID();
  const first = await client.POST("/me/onlineMeetings/createOrGet", { body: { externalId, subject: "first" } });
  check(first.response.status === 201 && first.data !== undefined, step, "first call: want 201", first);
  check(first.data.externalId === externalId, step, "first call: externalId", first);
  const again = await client.POST("/me/onlineMeetings/createOrGet", { body: { externalId, subject: "second" } });
  check(again.response.status === 200 && again.data !== undefined, step, "second call: want 200", again);
  check(again.data.id === first.data.id && again.data.subject === "first", step, "second call: want the first meeting unchanged", again);

  // --- delete, then get → 404 with Graph's error JSON
  step = "DELETE /me/onlineMeetings/{meetingId}";
  const deleted = await client.DELETE("/me/onlineMeetings/{meetingId}", { params: { path: { meetingId: id } } });
  check(deleted.response.status === 204 && deleted.error === undefined, step, "want 204", deleted);

  step = "GET /me/onlineMeetings/{meetingId} after DELETE";
  const gone = await client.GET("/me/onlineMeetings/{meetingId}", { params: { path: { meetingId: id } } });
  staticAssert<Equal<NonNullable<typeof gone.error>, GraphError>>(); // the error responses are typed
  check(gone.response.status === 404 && gone.error !== undefined, step, "want 404", gone);
  const notFound: GraphError = gone.error;
  check(notFound.error.code === "NotFound", step, `error.code ${JSON.stringify(notFound.error.code)}`, gone);
  check(typeof notFound.error.message === "string" && notFound.error.message.includes(id), step, "error.message should name the id", gone);
  check(typeof notFound.error.innerError?.["request-id"] === "string", step, "error.innerError.request-id missing", gone);

  // --- ids may hold '/' and '+' (they are base64): openapi-fetch must escape
  // the path parameter and the server see it whole, here in its 404 message.
  step = "GET /me/onlineMeetings/{meetingId} with '/' and '+' in the id";
  const oddId = "MSp/no+such=";
  const odd = await client.GET("/me/onlineMeetings/{meetingId}", { params: { path: { meetingId: oddId } } });
  check(odd.response.status === 404 && odd.error !== undefined, step, "want 404", odd);
  check(odd.error.error.code === "NotFound" && odd.error.error.message.includes(`'${oddId}'`), step, "want NotFound naming the id as sent", odd);

  // --- an unknown property → 400 RequestBodyRead. The generated request type
  // is closed (additionalProperties: false), so the literal only compiles with
  // the expect-error directive below; were the types `any`, tsc would fail on
  // the unused directive. (openapi-fetch itself does not catch it: a literal
  // passed inline as `body` escapes TypeScript's excess-property check, since
  // the options are a generic type parameter; the server's 400 does.)
  step = "POST /me/onlineMeetings with an unknown property";
  // @ts-expect-error notAProperty is not in onlineMeetingCreate
  const badBody: components["schemas"]["onlineMeetingCreate"] = { subject: "x", notAProperty: true };
  const bad = await client.POST("/me/onlineMeetings", { body: badBody });
  check(bad.response.status === 400 && bad.error !== undefined, step, "want 400", bad);
  check(bad.error.error.code === "RequestBodyRead", step, `error.code ${JSON.stringify(bad.error.error.code)}`, bad);
  check(bad.error.error.message.includes("notAProperty"), step, "error.message should name the property", bad);
}

main().then(
  () => console.log("typescript client smoke: ok (create, get, patch, list $filter, createOrGet 201/200, delete, 404, escaped id, 400)"),
  (err: unknown) => {
    console.error(`typescript client smoke: FAIL\n${err instanceof Mismatch ? err.message : err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
