// A smoke test of the SDK that @hey-api/openapi-ts generates from
// ../../openapi.yaml (fetch client, TypeScript types, zod schemas). It calls
// every operation of the spec against a live server, with the generated zod
// schemas validating every 2xx body (the SDK's responseValidator) and, here,
// every Graph error body too. It also reads each raw body and fails on a
// property the generated schema does not declare (zod would let it through
// silently), and on a declared status the server does not send.
//
// Environment (check.sh sets it): BASE_URL (the server's public URL; /v1.0 is
// appended), USER_ID (the user of the tokens), OTHER_USER_ID (a user no policy
// grants), TOKEN (OnlineMeetings.ReadWrite), TOKEN_READ (OnlineMeetings.Read),
// TOKEN_APP (app-only, OnlineMeetings.ReadWrite.All, its app granted USER_ID by
// the server's --access-policy). Any mismatch exits 1 naming the step.
import { randomUUID } from "node:crypto";
import type { z } from "zod";
import { createClient, createConfig, type Client } from "./gen/client/index.js";
import * as sdk from "./gen/sdk.gen.js";
import type * as T from "./gen/types.gen.js";
import * as Z from "./gen/zod.gen.js";

// --- compile-time checks that the generated types are real, not `any`
type IsAny<X> = 0 extends 1 & X ? true : false;
type Not<B extends boolean> = B extends true ? false : true;
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
function staticAssert<_ extends true>(): void {}
staticAssert<Not<IsAny<T.OnlineMeeting>>>();
staticAssert<Equal<T.OnlineMeeting["id"], string>>();
staticAssert<Equal<T.CreateOnlineMeetingError, T.OdataError>>(); // every error status is typed as Graph's error
staticAssert<Equal<T.GetOnlineMeetingError, T.OdataError>>();
staticAssert<Equal<T.OdataError["error"]["code"], string>>();

function env(name: string): string {
  const v = process.env[name];
  if (!v) {
    console.error(`smoke: set ${name} (see the header of smoke.ts)`);
    process.exit(2);
  }
  return v;
}
const baseUrl = env("BASE_URL").replace(/\/+$/, "") + "/v1.0";
const userId = env("USER_ID");
const otherUserId = env("OTHER_USER_ID");

class Mismatch extends Error {}
type Result = { response: Response; data?: unknown; error?: unknown };

// Each response's raw body, by Response object, so it can be checked as the
// server sent it (the SDK hands back parsed JSON only).
const rawBodies = new WeakMap<Response, string>();
const capturingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  rawBodies.set(res, await res.clone().text());
  return res;
};
function rawJSON(res: Result): unknown {
  const text = rawBodies.get(res.response);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

function check(cond: boolean, step: string, what: string, res?: Result): asserts cond {
  if (cond) return;
  let msg = `${step}: ${what}`;
  if (res) msg += `\n  status ${res.response.status}\n  body ${rawBodies.get(res.response) ?? "(none)"}`;
  throw new Mismatch(msg);
}

function mkClient(token?: string): Client {
  return createClient(createConfig({ baseUrl, fetch: capturingFetch, ...(token === undefined ? {} : { auth: token }) }));
}
const me = mkClient(env("TOKEN"));
const reader = mkClient(env("TOKEN_READ"));
const app = mkClient(env("TOKEN_APP"));
const anonymous = mkClient();
const badToken = mkClient("not.a.token");

// Bypasses the generated client-side request validation, so that invalid
// requests reach the server and its 400s can be checked.
const noRequestValidation = { requestValidator: async () => undefined };

// --- the raw body against the generated zod schema: properties the schema
// does not declare (zod objects are not strict, so they would pass unseen).
type Def = {
  type: string;
  innerType?: z.core.$ZodType;
  shape?: Record<string, z.core.$ZodType>;
  element?: z.core.$ZodType;
  getter?: () => z.core.$ZodType;
  in?: z.core.$ZodType;
  options?: z.core.$ZodType[];
};
function undeclared(schema: z.core.$ZodType, value: unknown, path: string, out: string[]): void {
  const def = schema._zod.def as unknown as Def;
  if (value === null || value === undefined) return;
  if (def.innerType) return undeclared(def.innerType, value, path, out); // optional, nullable, readonly, default
  if (def.getter) return undeclared(def.getter(), value, path, out);
  if (def.in) return undeclared(def.in, value, path, out);
  if (def.type === "object" && def.shape && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) {
      const s = def.shape[k];
      if (s === undefined) out.push(`${path}.${k}`);
      else undeclared(s, v, `${path}.${k}`, out);
    }
  } else if (def.type === "array" && def.element && Array.isArray(value)) {
    value.forEach((v, i) => undeclared(def.element as z.core.$ZodType, v, `${path}[${i}]`, out));
  }
}
function conforms(schema: z.ZodType, step: string, res: Result, raw: unknown = rawJSON(res)): void {
  const parsed = schema.safeParse(raw);
  check(parsed.success, step, `body does not match the generated schema: ${parsed.error?.message}`, res);
  const extra: string[] = [];
  undeclared(schema, raw, "$", extra);
  check(extra.length === 0, step, `properties the generated types do not declare: ${extra.join(", ")}`, res);
}

// Navigation properties and annotations the server never sends; every other
// property of a full meeting is present (null when unset), as Graph sends it.
const neverSent = new Set(["@odata.type", "attendanceReports", "recordings", "transcripts"]);
// (A collection's items have no @odata.context: the collection has it.)
function fullMeeting(step: string, res: Result, item?: unknown): T.OnlineMeeting {
  const raw = item ?? rawJSON(res);
  conforms(Z.zOnlineMeeting, step, res, raw);
  const missing = Object.keys(Z.zOnlineMeeting.shape).filter((k) => !neverSent.has(k) && !(item !== undefined && k === "@odata.context") && !(k in (raw as object)));
  check(missing.length === 0, step, `declared properties missing from a full meeting: ${missing.join(", ")}`, res);
  check(res.data !== undefined, step, "no data", res);
  return raw as T.OnlineMeeting;
}

// An error response: the status (a type argument that must be one of the
// operation's declared error statuses, or tsc fails), Graph's error JSON
// validated with the generated schema, the code, and request-id correlation.
function expectError<E>(step: string, res: Result, status: Extract<keyof E, number>, code: string, message?: string | RegExp): T.OdataError {
  check(res.response.status === status, step, `want ${status} ${code}`, res);
  check(res.error !== undefined && res.data === undefined, step, "want an error, not data", res);
  conforms(Z.zOdataError, step, res);
  const err = res.error as T.OdataError;
  check(err.error.code === code, step, `error.code ${JSON.stringify(err.error.code)}, want ${code}`, res);
  if (typeof message === "string") check(err.error.message === message, step, `error.message ${JSON.stringify(err.error.message)}`, res);
  else if (message) check(message.test(err.error.message), step, `error.message ${JSON.stringify(err.error.message)} !~ ${message}`, res);
  const rid = res.response.headers.get("request-id");
  check(rid !== null && err.error.innerError?.["request-id"] === rid, step, "innerError.request-id should equal the request-id header", res);
  check(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(err.error.innerError?.date ?? ""), step, "innerError.date should be yyyy-MM-ddTHH:mm:ss", res);
  return err;
}

async function rejectsClientSide(step: string, call: () => Promise<unknown>): Promise<void> {
  let threw = false;
  try {
    await call();
  } catch {
    threw = true;
  }
  check(threw, step, "the generated request validator should refuse this before sending it");
}

const filterLiteral = (s: string): string => `'${s.replaceAll("'", "''")}'`;
const ops = new Set<string>();

async function main(): Promise<void> {
  // ================= /me: create, get, patch, list, createOrGet, delete
  let step = "createOnlineMeeting";
  ops.add(step);
  const subject = `hey-api smoke ${randomUUID()}`;
  const clientRequestId = randomUUID();
  const created = await sdk.createOnlineMeeting({
    client: me,
    headers: { "client-request-id": clientRequestId },
    body: {
      subject,
      startDateTime: "2026-12-01T10:00:00.1234567+01:00", // Graph's form: an offset, 7 fractional digits
      endDateTime: "2026-12-01T11:00:00+01:00",
      participants: { attendees: [{ identity: { user: { id: otherUserId } }, role: "coorganizer" }] },
      lobbyBypassSettings: { scope: "invited" },
      joinMeetingIdSettings: { isPasscodeRequired: true },
    },
  });
  check(created.response.status === 201, step, "want 201", created);
  const meeting = fullMeeting(step, created);
  const id = meeting.id;
  check(created.response.headers.get("client-request-id") === clientRequestId, step, "client-request-id not echoed", created);
  check(meeting.startDateTime === "2026-12-01T09:00:00.1234567Z" && meeting.endDateTime === "2026-12-01T10:00:00Z", step, "times not normalised to UTC", created);
  check(meeting.participants?.organizer?.identity?.user?.id === userId && meeting.participants.organizer.role === "presenter", step, "organizer", created);
  // Evolvable enums: members after unknownFutureValue read back as it without the Prefer header.
  check(meeting.participants?.attendees?.[0]?.role === "unknownFutureValue", step, "attendee role should read unknownFutureValue", created);
  check(meeting.lobbyBypassSettings?.scope === "unknownFutureValue", step, "lobby scope should read unknownFutureValue", created);
  check(/^[A-Za-z0-9]{8}$/.test(meeting.joinMeetingIdSettings?.passcode ?? ""), step, "passcode", created);
  check(meeting.audioConferencing === null && meeting.externalId === null, step, "server-owned nulls", created);
  const joinWebUrl = meeting.joinWebUrl ?? "";
  const joinMeetingId = meeting.joinMeetingIdSettings?.joinMeetingId ?? "";
  check(joinWebUrl.startsWith("https://teams.microsoft.com/l/meetup-join/") && /^\d{13}$/.test(joinMeetingId), step, "join URL / id", created);

  step = "getOnlineMeeting";
  ops.add(step);
  const got = await sdk.getOnlineMeeting({ client: me, path: { meetingId: id } });
  check(got.response.status === 200 && fullMeeting(step, got).subject === subject, step, "want 200 and the meeting", got);

  step = "getOnlineMeeting with Prefer: include-unknown-enum-members";
  const preferred = await sdk.getOnlineMeeting({ client: me, path: { meetingId: id }, headers: { Prefer: "include-unknown-enum-members" } });
  const pm = fullMeeting(step, preferred);
  check(pm.participants?.attendees?.[0]?.role === "coorganizer" && pm.lobbyBypassSettings?.scope === "invited", step, "want the stored members", preferred);
  check(preferred.response.headers.get("Preference-Applied") === "include-unknown-enum-members", step, "Preference-Applied", preferred);

  step = "getOnlineMeeting with $select";
  const selected = await sdk.getOnlineMeeting({ client: me, path: { meetingId: id }, query: { $select: "subject,joinWebUrl" } });
  conforms(Z.zOnlineMeeting, step, selected);
  check(Object.keys(rawJSON(selected) as object).sort().join() === "@odata.context,id,joinWebUrl,subject", step, "want only id, subject, joinWebUrl", selected);

  step = "updateOnlineMeeting";
  ops.add(step);
  const patched = await sdk.updateOnlineMeeting({
    client: me,
    path: { meetingId: id },
    body: {
      subject: `${subject} (renamed)`,
      startDateTime: "2026-12-02T10:00:00-05:00",
      endDateTime: "2026-12-02T11:30:00-05:00",
      lobbyBypassSettings: { isDialInBypassEnabled: true }, // in part: the scope is kept
    },
  });
  const pa = fullMeeting(step, patched);
  check(patched.response.status === 200 && pa.subject === `${subject} (renamed)`, step, "want 200 and the new subject", patched);
  check(pa.startDateTime === "2026-12-02T15:00:00Z" && pa.endDateTime === "2026-12-02T16:30:00Z", step, "times", patched);
  check(pa.lobbyBypassSettings?.isDialInBypassEnabled === true && pa.lobbyBypassSettings.scope === "unknownFutureValue", step, "partial lobbyBypassSettings", patched);

  step = "updateOnlineMeeting subject: null";
  const cleared = await sdk.updateOnlineMeeting({ client: me, path: { meetingId: id }, body: { subject: null } });
  check(cleared.response.status === 200 && fullMeeting(step, cleared).subject === null, step, "subject should be null", cleared);

  step = "listOnlineMeetings $filter=JoinWebUrl";
  ops.add("listOnlineMeetings");
  const byUrl = await sdk.listOnlineMeetings({ client: me, query: { $filter: `JoinWebUrl eq ${filterLiteral(joinWebUrl)}` } });
  conforms(Z.zOnlineMeetingCollectionResponse, step, byUrl);
  check(byUrl.data?.value.length === 1 && byUrl.data.value[0]?.id === id, step, "want exactly the meeting", byUrl);

  step = "listOnlineMeetings $filter=joinMeetingIdSettings/joinMeetingId";
  const byJoinId = await sdk.listOnlineMeetings({ client: me, query: { $filter: `joinMeetingIdSettings/joinMeetingId eq ${filterLiteral(joinMeetingId)}` } });
  conforms(Z.zOnlineMeetingCollectionResponse, step, byJoinId);
  check(byJoinId.data?.value.length === 1 && byJoinId.data.value[0]?.id === id, step, "want exactly the meeting", byJoinId);

  // Paging: five more meetings, then $top=2 pages following @odata.nextLink
  // (its query, $skiptoken included, is passed back as it is).
  step = "listOnlineMeetings $top=2 paging";
  const mine = new Set([id]);
  for (let i = 0; i < 5; i++) {
    const r = await sdk.createOnlineMeeting({ client: me, body: { subject: `page ${i}` } });
    check(r.response.status === 201, step, "create", r);
    mine.add(fullMeeting(step, r).id);
  }
  const seen: string[] = [];
  let query: T.ListOnlineMeetingsData["query"] = { $top: 2 };
  for (let page = 0; ; page++) {
    check(page < 50, step, "too many pages");
    const r: Awaited<ReturnType<typeof sdk.listOnlineMeetings>> = await sdk.listOnlineMeetings({ client: me, query });
    conforms(Z.zOnlineMeetingCollectionResponse, step, r);
    check(r.response.status === 200 && r.data !== undefined && r.data.value.length <= 2, step, "want 200 and at most 2", r);
    for (const m of (rawJSON(r) as { value: unknown[] }).value) seen.push(fullMeeting(step, r, m).id); // every item is a full meeting
    const next: string | undefined = r.data["@odata.nextLink"];
    if (next === undefined) break;
    const u: URL = new URL(next);
    check(u.pathname === "/v1.0/me/onlineMeetings", step, `nextLink ${next}`, r);
    const skiptoken: string | null = u.searchParams.get("$skiptoken");
    const top: string | null = u.searchParams.get("$top");
    check(skiptoken !== null && top !== null, step, `nextLink without $skiptoken/$top: ${next}`, r);
    query = { $skiptoken: skiptoken, $top: Number(top) };
  }
  check(new Set(seen).size === seen.length && [...mine].every((m) => seen.includes(m)), step, `pages repeat or miss meetings: ${seen.length} seen`);

  step = "createOrGetOnlineMeeting";
  ops.add(step);
  const externalId = randomUUID();
  const first = await sdk.createOrGetOnlineMeeting({ client: me, body: { externalId, subject: "first" } });
  check(first.response.status === 201 && fullMeeting(step, first).externalId === externalId, step, "first call: want 201", first);
  const again = await sdk.createOrGetOnlineMeeting({ client: me, body: { externalId, subject: "second" } });
  check(again.response.status === 200, step, "second call: want 200", again);
  check(fullMeeting(step, again).id === first.data?.id && again.data?.subject === "first", step, "second call: want the first meeting unchanged", again);

  step = "deleteOnlineMeeting";
  ops.add(step);
  const deleted = await sdk.deleteOnlineMeeting({ client: me, path: { meetingId: id } });
  check(deleted.response.status === 204 && deleted.error === undefined && rawBodies.get(deleted.response) === "", step, "want 204, no body", deleted);
  const gone = await sdk.getOnlineMeeting({ client: me, path: { meetingId: id } });
  expectError<T.GetOnlineMeetingErrors>("getOnlineMeeting after delete", gone, 404, "NotFound", `The onlineMeeting with id '${id}' was not found.`);
  const goneAgain = await sdk.deleteOnlineMeeting({ client: me, path: { meetingId: id } });
  expectError<T.DeleteOnlineMeetingErrors>("deleteOnlineMeeting twice", goneAgain, 404, "NotFound");

  // ================= /users/{userId}: an app-only token its policy grants USER_ID
  step = "createUserOnlineMeeting (app-only)";
  ops.add("createUserOnlineMeeting");
  const uc = await sdk.createUserOnlineMeeting({ client: app, path: { userId }, body: { subject: "for the user" } });
  check(uc.response.status === 201, step, "want 201", uc);
  const um = fullMeeting(step, uc);
  const org = um.participants?.organizer;
  check(org?.identity?.user?.id === userId && org.identity.user.displayName === null && org.upn === null, step, "organizer should be the user, without name or upn", uc);

  step = "getUserOnlineMeeting (app-only)";
  ops.add("getUserOnlineMeeting");
  const ug = await sdk.getUserOnlineMeeting({ client: app, path: { userId, meetingId: um.id } });
  check(ug.response.status === 200 && fullMeeting(step, ug).id === um.id, step, "want 200", ug);

  step = "updateUserOnlineMeeting (app-only)";
  ops.add("updateUserOnlineMeeting");
  const uu = await sdk.updateUserOnlineMeeting({ client: app, path: { userId, meetingId: um.id }, body: { allowedPresenters: "organizer", watermarkProtection: { isEnabledForVideo: true } } });
  const uum = fullMeeting(step, uu);
  check(uu.response.status === 200 && uum.allowedPresenters === "organizer" && uum.watermarkProtection?.isEnabledForVideo === true, step, "want 200 and the change", uu);

  step = "listUserOnlineMeetings (app-only, $filter)";
  ops.add("listUserOnlineMeetings");
  const ul = await sdk.listUserOnlineMeetings({ client: app, path: { userId }, query: { $filter: `JoinWebUrl eq ${filterLiteral(um.joinWebUrl ?? "")}` } });
  conforms(Z.zOnlineMeetingCollectionResponse, step, ul);
  check(ul.data?.value.length === 1 && ul.data.value[0]?.id === um.id, step, "want exactly the meeting", ul);

  step = "listUserOnlineMeetings (delegated, own id, $top=1)";
  const ud = await sdk.listUserOnlineMeetings({ client: me, path: { userId }, query: { $top: 1 } });
  conforms(Z.zOnlineMeetingCollectionResponse, step, ud);
  check(ud.data?.value.length === 1 && typeof ud.data["@odata.nextLink"] === "string", step, "want one meeting and a nextLink", ud);

  step = "createOrGetUserOnlineMeeting (app-only)";
  ops.add("createOrGetUserOnlineMeeting");
  const ext2 = randomUUID();
  const ucg1 = await sdk.createOrGetUserOnlineMeeting({ client: app, path: { userId }, body: { externalId: ext2, chatInfo: { threadId: "19:given@thread.v2", messageId: "0" } } });
  check(ucg1.response.status === 201 && fullMeeting(step, ucg1).chatInfo?.threadId === "19:given@thread.v2", step, "want 201 with the chatInfo kept", ucg1);
  const ucg2 = await sdk.createOrGetUserOnlineMeeting({ client: app, path: { userId }, body: { externalId: ext2 } });
  check(ucg2.response.status === 200 && fullMeeting(step, ucg2).id === ucg1.data?.id, step, "want 200, the same meeting", ucg2);

  step = "deleteUserOnlineMeeting (app-only)";
  ops.add("deleteUserOnlineMeeting");
  const udel = await sdk.deleteUserOnlineMeeting({ client: app, path: { userId, meetingId: um.id } });
  check(udel.response.status === 204, step, "want 204", udel);
  expectError<T.GetUserOnlineMeetingErrors>("getUserOnlineMeeting after delete", await sdk.getUserOnlineMeeting({ client: app, path: { userId, meetingId: um.id } }), 404, "NotFound");

  // ================= errors
  expectError<T.CreateUserOnlineMeetingErrors>("createUserOnlineMeeting for a user no policy grants", await sdk.createUserOnlineMeeting({ client: app, path: { userId: otherUserId }, body: {} }), 403, "Forbidden", "No application access policy found for this app");
  expectError<T.ListUserOnlineMeetingsErrors>("listUserOnlineMeetings, delegated, another user's id", await sdk.listUserOnlineMeetings({ client: me, path: { userId: otherUserId } }), 403, "Forbidden");
  expectError<T.GetUserOnlineMeetingErrors>("getUserOnlineMeeting, userId not a GUID", await sdk.getUserOnlineMeeting({ client: me, path: { userId: "not-a-guid", meetingId: "x" } }), 404, "NotFound");
  expectError<T.ListOnlineMeetingsErrors>("listOnlineMeetings with an app-only token on /me", await sdk.listOnlineMeetings({ client: app }), 400, "BadRequest", "/me request is only valid with delegated authentication flow.");

  step = "createOnlineMeeting without a token";
  const noTok = await sdk.createOnlineMeeting({ client: anonymous, body: {} });
  expectError<T.CreateOnlineMeetingErrors>(step, noTok, 401, "InvalidAuthenticationToken", "Access token is empty.");
  check(noTok.response.headers.get("WWW-Authenticate") === "Bearer", step, "WWW-Authenticate", noTok);
  const badTok = await sdk.getOnlineMeeting({ client: badToken, path: { meetingId: "x" } });
  expectError<T.GetOnlineMeetingErrors>("getOnlineMeeting with an invalid token", badTok, 401, "InvalidAuthenticationToken", "Access token validation failure.");

  expectError<T.CreateOnlineMeetingErrors>("createOnlineMeeting with OnlineMeetings.Read", await sdk.createOnlineMeeting({ client: reader, body: {} }), 403, "Forbidden", /OnlineMeetings\.ReadWrite/);
  const readList = await sdk.listOnlineMeetings({ client: reader, query: { $top: 1 } });
  check(readList.response.status === 200, "listOnlineMeetings with OnlineMeetings.Read", "want 200", readList);
  conforms(Z.zOnlineMeetingCollectionResponse, "listOnlineMeetings with OnlineMeetings.Read", readList);

  // An id holding '/', '+' and '=' (ids are base64): the SDK must escape it
  // and the server see it whole.
  const oddId = "MSp/no+such=";
  expectError<T.UpdateOnlineMeetingErrors>("updateOnlineMeeting with '/' and '+' in the id", await sdk.updateOnlineMeeting({ client: me, path: { meetingId: oddId }, body: { subject: "x" } }), 404, "NotFound", `The onlineMeeting with id '${oddId}' was not found.`);

  // 400s. The typed request body refuses an unknown property at compile
  // time; the generated zod schema does not (objects are not strict), so the
  // server's 400 is what catches it at run time.
  step = "createOnlineMeeting with an unknown property";
  // @ts-expect-error notAProperty is not in OnlineMeetingCreate
  const unknownProp: T.OnlineMeetingCreate = { subject: "x", notAProperty: true };
  const up = await sdk.createOnlineMeeting({ client: me, body: unknownProp });
  expectError<T.CreateOnlineMeetingErrors>(step, up, 400, "RequestBodyRead", /'notAProperty' does not exist on type 'microsoft\.graph\.onlineMeeting'/);

  // A date-time without an offset: refused by the generated validator before
  // sending, and by the server (Graph's OData literal error) when sent anyway.
  step = "createOnlineMeeting with a date-time without offset";
  await rejectsClientSide(step, () => sdk.createOnlineMeeting({ client: me, body: { startDateTime: "2026-12-01T10:00:00" } }));
  const noOffset = await sdk.createOnlineMeeting({ client: me, body: { startDateTime: "2026-12-01T10:00:00" }, ...noRequestValidation });
  expectError<T.CreateOnlineMeetingErrors>(step, noOffset, 400, "BadRequest", "Cannot convert the literal '2026-12-01T10:00:00' to the expected type 'Edm.DateTimeOffset'.");

  step = "createOrGetOnlineMeeting, end before start";
  const backwards = await sdk.createOrGetOnlineMeeting({ client: me, body: { externalId: randomUUID(), startDateTime: "2026-12-01T11:00:00Z", endDateTime: "2026-12-01T10:00:00Z" } });
  expectError<T.CreateOrGetOnlineMeetingErrors>(step, backwards, 400, "BadRequest");

  step = "updateOnlineMeeting, start without end";
  const m2 = [...mine].find((m) => m !== id) ?? "";
  expectError<T.UpdateOnlineMeetingErrors>(step, await sdk.updateOnlineMeeting({ client: me, path: { meetingId: m2 }, body: { startDateTime: "2026-12-01T10:00:00Z" } }), 400, "InvalidArgument");

  step = "listOnlineMeetings $top=0";
  await rejectsClientSide(step, () => sdk.listOnlineMeetings({ client: me, query: { $top: 0 } }));
  expectError<T.ListOnlineMeetingsErrors>(step, await sdk.listOnlineMeetings({ client: me, query: { $top: 0 }, ...noRequestValidation }), 400, "BadRequest");

  step = "listOnlineMeetings, unsupported $filter";
  expectError<T.ListOnlineMeetingsErrors>(step, await sdk.listOnlineMeetings({ client: me, query: { $filter: "subject eq 'x'" } }), 400, "BadRequest", /^Invalid filter clause/);

  const all = Object.keys(sdk).filter((k) => typeof (sdk as Record<string, unknown>)[k] === "function");
  const missed = all.filter((k) => !ops.has(k));
  check(missed.length === 0, "coverage", `operations not exercised: ${missed.join(", ")}`);
  console.log(`hey-api client smoke: ok (${ops.size} operations of ${all.length}, every 2xx and error body validated against the generated zod schemas)`);
}

main().catch((err: unknown) => {
  console.error(`hey-api client smoke: FAIL\n${err instanceof Mismatch ? err.message : err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
