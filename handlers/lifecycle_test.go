package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/onlinemeetings/onlinemeetings/auth/authtest"
	"github.com/onlinemeetings/onlinemeetings/handlers"
	"github.com/onlinemeetings/onlinemeetings/store"
)

// Other principals of the lifecycle tests: bob is a second user of the
// default tenant; eve has the default user's object id in another tenant.
const (
	bobOID      = "b0b0b0b0-1111-4222-8333-444455556666"
	otherTenant = "e5e5e5e5-aaaa-4bbb-8ccc-dddddddddddd"
	otherAppID  = "0a0a0a0a-9999-4888-8777-666655554444"
	targetUser  = "7a7a7a7a-1234-4567-89ab-cdef01234567"
)

// policy is a fixed application access policy for tests: tenant/app/user
// triples, or tenant/app with user "*" for global.
type policy map[string]bool

func (p policy) Allows(tenantID, appID, userID string) bool {
	return p[tenantID+"/"+appID+"/"+userID] || p[tenantID+"/"+appID+"/*"]
}

var _ handlers.AccessPolicy = policy(nil)

func withPolicy(p policy) func(*handlers.Config) {
	return func(c *handlers.Config) { c.AccessPolicy = p }
}

// call sends a request with token tok (none when empty) and, for a non-empty
// body, a JSON Content-Type.
func (h *harness) call(method, path, tok, body string, header ...string) response {
	h.t.Helper()
	hdr := map[string]string{}
	if tok != "" {
		hdr["Authorization"] = "Bearer " + tok
	}
	if body != "" {
		hdr["Content-Type"] = "application/json"
	}
	for i := 0; i+1 < len(header); i += 2 {
		hdr[header[i]] = header[i+1]
	}
	var r *strings.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	if r == nil {
		return h.do(method, path, hdr, nil)
	}
	return h.do(method, path, hdr, r)
}

// meetingPath is the URL path of a meeting under base (/v1.0/me/onlineMeetings).
func meetingPath(base, id string) string { return base + "/" + url.PathEscape(id) }

func mustStatus(t *testing.T, r response, want int) map[string]any {
	t.Helper()
	if r.status != want {
		t.Fatalf("status = %d, want %d; body %s", r.status, want, r.body)
	}
	if want == http.StatusNoContent {
		if len(r.body) != 0 {
			t.Fatalf("204 with a body: %s", r.body)
		}
		return nil
	}
	return r.json(t)
}

func TestGetUpdateDelete(t *testing.T) {
	forEachStore(t, func(t *testing.T, h *harness) {
		tok := h.userToken()
		created := mustStatus(t, h.create(`{"subject":"first","lobbyBypassSettings":{"scope":"everyone"}}`), http.StatusCreated)
		id := created["id"].(string)
		path := meetingPath("/v1.0/me/onlineMeetings", id)

		got := mustStatus(t, h.call(http.MethodGet, path, tok, ""), http.StatusOK)
		if fmt.Sprint(got) != fmt.Sprint(created) {
			t.Errorf("GET = %v\nwant the created meeting %v", got, created)
		}

		patched := mustStatus(t, h.call(http.MethodPatch, path, tok,
			`{"@odata.type":"#microsoft.graph.onlineMeeting","subject":"second","lobbyBypassSettings":{"isDialInBypassEnabled":true}}`), http.StatusOK)
		if patched["subject"] != "second" {
			t.Errorf("patched subject = %v", patched["subject"])
		}
		lobby := patched["lobbyBypassSettings"].(map[string]any)
		if lobby["scope"] != "everyone" || lobby["isDialInBypassEnabled"] != true {
			t.Errorf("lobbyBypassSettings = %v, want the sent member merged into the stored ones", lobby)
		}
		for _, k := range []string{"id", "joinWebUrl", "creationDateTime", "startDateTime", "chatInfo", "joinMeetingIdSettings"} {
			if fmt.Sprint(patched[k]) != fmt.Sprint(created[k]) {
				t.Errorf("PATCH changed %s: %v → %v", k, created[k], patched[k])
			}
		}
		if c, _ := patched["@odata.context"].(string); !strings.HasSuffix(c, "/onlineMeetings/$entity") {
			t.Errorf("@odata.context = %q", c)
		}
		again := mustStatus(t, h.call(http.MethodGet, path, tok, ""), http.StatusOK)
		if fmt.Sprint(again) != fmt.Sprint(patched) {
			t.Errorf("GET after PATCH = %v\nwant %v", again, patched)
		}

		cleared := mustStatus(t, h.call(http.MethodPatch, path, tok, `{"subject":null}`), http.StatusOK)
		if v, ok := cleared["subject"]; !ok || v != nil {
			t.Errorf("subject after null = %v (present %v), want null", v, ok)
		}

		mustStatus(t, h.call(http.MethodDelete, path, tok, ""), http.StatusNoContent)
		graphError(t, h.call(http.MethodGet, path, tok, ""), http.StatusNotFound, "NotFound", "The onlineMeeting with id '"+id+"' was not found.")
		graphError(t, h.call(http.MethodDelete, path, tok, ""), http.StatusNotFound, "NotFound", "was not found")
		graphError(t, h.call(http.MethodPatch, path, tok, `{"subject":"x"}`), http.StatusNotFound, "NotFound", "was not found")
	})
}

func TestMeetingNotFound(t *testing.T) {
	forEachStore(t, func(t *testing.T, h *harness) {
		tok := h.userToken()
		created := mustStatus(t, h.create(`{}`), http.StatusCreated)
		id := created["id"].(string)
		bob := h.iss.UserToken(t, authtest.UserOpts{OID: bobOID})
		eve := h.iss.UserToken(t, authtest.UserOpts{TID: otherTenant})
		tests := []struct {
			name, tok, rawID string
		}{
			{"unknown", tok, "MSpub3QtYS1tZWV0aW5n"},
			{"NUL byte", tok, "abc%00def"},
			{"not base64", tok, "%E2%9C%93%20x"},
			{"invalid UTF-8", tok, "%FF%FEab"},
			{"too long", tok, strings.Repeat("A", 600)},
			{"another user's", bob, url.PathEscape(id)},
			{"same oid, other tenant", eve, url.PathEscape(id)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, method := range []string{http.MethodGet, http.MethodDelete, http.MethodPatch} {
					body := ""
					if method == http.MethodPatch {
						body = `{"subject":"stolen"}`
					}
					graphError(t, h.call(method, "/v1.0/me/onlineMeetings/"+tt.rawID, tt.tok, body), http.StatusNotFound, "NotFound", "The onlineMeeting with id '")
				}
			})
		}
		// Nothing above changed the meeting.
		got := mustStatus(t, h.call(http.MethodGet, meetingPath("/v1.0/me/onlineMeetings", id), tok, ""), http.StatusOK)
		if fmt.Sprint(got) != fmt.Sprint(created) {
			t.Errorf("meeting changed: %v", got)
		}
	})
}

func TestPatchRules(t *testing.T) {
	h := newHarness(t, storeKinds[0].open(t))
	tok := h.userToken()
	created := mustStatus(t, h.create(`{"subject":"s","startDateTime":"2026-01-01T10:00:00Z","endDateTime":"2026-01-01T11:00:00Z"}`), http.StatusCreated)
	path := meetingPath("/v1.0/me/onlineMeetings", created["id"].(string))
	me := fmt.Sprintf(`{"identity":{"user":{"id":%q}}}`, authtest.UserObjectID)
	tests := []struct {
		name, body string
		status     int
		code, msg  string
		check      func(t *testing.T, m map[string]any)
	}{
		{"not updatable", `{"joinMeetingIdSettings":{"isPasscodeRequired":true}}`, 400, "InvalidArgument",
			"One or more properties do not support updating. Please refer to Microsoft Graph documentation for more information.", nil},
		{"server-owned", `{"joinWebUrl":"https://x"}`, 400, "InvalidArgument", "One or more properties do not support updating.", nil},
		{"meeting type", `{"meetingType":"adhoc"}`, 400, "InvalidArgument", "Updating meeting type is not supported.", nil},
		{"unknown property", `{"subjekt":"x"}`, 400, "RequestBodyRead", "The property 'subjekt' does not exist on type 'microsoft.graph.onlineMeeting'", nil},
		{"start only", `{"startDateTime":"2026-01-02T10:00:00Z"}`, 400, "InvalidArgument", "startDateTime and endDateTime must be updated together.", nil},
		{"end only", `{"endDateTime":"2026-01-02T10:00:00Z"}`, 400, "InvalidArgument", "together", nil},
		{"end before start", `{"startDateTime":"2026-01-02T10:00:00Z","endDateTime":"2026-01-02T09:00:00Z"}`, 400, "InvalidArgument", "endDateTime must be equal to or later than startDateTime.", nil},
		{"no offset", `{"startDateTime":"2026-01-02T10:00:00","endDateTime":"2026-01-02T11:00:00Z"}`, 400, "BadRequest", "Cannot convert the literal '2026-01-02T10:00:00' to the expected type 'Edm.DateTimeOffset'.", nil},
		{"second 60", `{"startDateTime":"2026-01-02T10:00:60Z","endDateTime":"2026-01-02T11:00:00Z"}`, 400, "BadRequest", "Cannot convert the literal '2026-01-02T10:00:60Z' to the expected type 'Edm.DateTimeOffset'.", nil},
		{"after year 9999 in UTC", `{"startDateTime":"2026-01-02T10:00:00Z","endDateTime":"9999-12-31T23:00:00-02:00"}`, 400, "BadRequest", "Cannot convert the literal '9999-12-31T23:00:00-02:00'", nil},
		{"wrong type", `{"allowRecording":"yes"}`, 400, "BadRequest", "allowRecording", nil},
		{"unknownFutureValue as input", `{"allowedPresenters":"unknownFutureValue"}`, 400, "BadRequest", "unknownFutureValue", nil},
		{"other organizer", `{"participants":{"organizer":{"identity":{"user":{"id":"` + bobOID + `"}}}}}`, 400, "InvalidArgument", "organizer", nil},
		{"null organizer", `{"participants":{"organizer":null}}`, 400, "InvalidArgument", "organizer", nil},
		{"times together, offsets normalised", `{"startDateTime":"2020-09-09T14:33:30.8546353-07:00","endDateTime":"2020-09-09T15:33:30.8546353-07:00"}`, 200, "", "",
			func(t *testing.T, m map[string]any) {
				if m["startDateTime"] != "2020-09-09T21:33:30.8546353Z" || m["endDateTime"] != "2020-09-09T22:33:30.8546353Z" {
					t.Errorf("times = %v, %v", m["startDateTime"], m["endDateTime"])
				}
			}},
		{"same organizer and attendees as a full list", `{"participants":{"organizer":` + me + `,"attendees":[{"identity":{"user":{"id":"` + bobOID + `"}},"upn":"bob@contoso.example"}]}}`, 200, "", "",
			func(t *testing.T, m map[string]any) {
				p := m["participants"].(map[string]any)
				att := p["attendees"].([]any)
				if len(att) != 1 || att[0].(map[string]any)["role"] != "attendee" {
					t.Errorf("attendees = %v", att)
				}
				org := p["organizer"].(map[string]any)
				if org["upn"] != authtest.UserUPN {
					t.Errorf("organizer changed: %v", org)
				}
			}},
		{"attendees replaced", `{"participants":{"attendees":[]}}`, 200, "", "",
			func(t *testing.T, m map[string]any) {
				if att := m["participants"].(map[string]any)["attendees"].([]any); len(att) != 0 {
					t.Errorf("attendees = %v, want []", att)
				}
			}},
		{"several settings", `{"allowRecording":true,"isEntryExitAnnounced":false,"watermarkProtection":{"isEnabledForVideo":true}}`, 200, "", "",
			func(t *testing.T, m map[string]any) {
				if m["allowRecording"] != true || m["isEntryExitAnnounced"] != false {
					t.Errorf("settings = %v, %v", m["allowRecording"], m["isEntryExitAnnounced"])
				}
				if w := m["watermarkProtection"].(map[string]any); w["isEnabledForVideo"] != true {
					t.Errorf("watermarkProtection = %v", w)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := mustStatus(t, h.call(http.MethodGet, path, tok, ""), http.StatusOK)
			r := h.call(http.MethodPatch, path, tok, tt.body)
			if tt.status != http.StatusOK {
				graphError(t, r, tt.status, tt.code, tt.msg)
				after := mustStatus(t, h.call(http.MethodGet, path, tok, ""), http.StatusOK)
				if fmt.Sprint(after) != fmt.Sprint(before) {
					t.Errorf("a refused PATCH changed the meeting:\n%v\n%v", before, after)
				}
				return
			}
			m := mustStatus(t, r, http.StatusOK)
			tt.check(t, m)
		})
	}
}

func TestConcurrentPatchesOfDifferentProperties(t *testing.T) {
	forEachStore(t, func(t *testing.T, h *harness) {
		tok := h.userToken()
		created := mustStatus(t, h.create(`{}`), http.StatusCreated)
		path := meetingPath("/v1.0/me/onlineMeetings", created["id"].(string))
		props := []string{"allowRecording", "allowTranscription", "allowWhiteboard", "allowBreakoutRooms",
			"allowPowerPointSharing", "recordAutomatically", "allowCopyingAndSharingMeetingContent", "allowAttendeeToEnableMic"}
		var wg sync.WaitGroup
		for _, p := range props {
			wg.Go(func() {
				if r := h.call(http.MethodPatch, path, tok, `{"`+p+`":true}`); r.status != http.StatusOK {
					t.Errorf("PATCH %s: %d %s", p, r.status, r.body)
				}
			})
		}
		wg.Wait()
		got := mustStatus(t, h.call(http.MethodGet, path, tok, ""), http.StatusOK)
		for _, p := range props {
			if got[p] != true {
				t.Errorf("%s = %v after concurrent PATCHes, want true (a PATCH was lost)", p, got[p])
			}
		}
	})
}

func TestCreateOrGet(t *testing.T) {
	forEachStore(t, func(t *testing.T, h *harness) {
		tok := h.userToken()
		const path = "/v1.0/me/onlineMeetings/createOrGet"
		first := mustStatus(t, h.call(http.MethodPost, path, tok,
			`{"externalId":"ext-1","subject":"one","chatInfo":{"threadId":"19:given@thread.tacv2","messageId":"0"}}`), http.StatusCreated)
		if first["externalId"] != "ext-1" || first["subject"] != "one" {
			t.Errorf("created = %v", first)
		}
		if ci := first["chatInfo"].(map[string]any); ci["threadId"] != "19:given@thread.tacv2" {
			t.Errorf("chatInfo = %v, want it kept as given", ci)
		}
		if u, _ := first["joinWebUrl"].(string); strings.Contains(u, "given") {
			t.Errorf("joinWebUrl %q was built from the client's thread id", u)
		}
		second := mustStatus(t, h.call(http.MethodPost, path, tok, `{"externalId":"ext-1","subject":"two"}`), http.StatusOK)
		if fmt.Sprint(second) != fmt.Sprint(first) {
			t.Errorf("existing meeting not returned unchanged:\n%v\n%v", first, second)
		}
		// Another user with the same externalId gets a meeting of their own.
		bob := h.iss.UserToken(t, authtest.UserOpts{OID: bobOID})
		other := mustStatus(t, h.call(http.MethodPost, path, bob, `{"externalId":"ext-1"}`), http.StatusCreated)
		if other["id"] == first["id"] {
			t.Error("two users share a createOrGet meeting")
		}
		// After a delete the externalId makes a new meeting.
		mustStatus(t, h.call(http.MethodDelete, meetingPath("/v1.0/me/onlineMeetings", first["id"].(string)), tok, ""), http.StatusNoContent)
		third := mustStatus(t, h.call(http.MethodPost, path, tok, `{"externalId":"ext-1"}`), http.StatusCreated)
		if third["id"] == first["id"] {
			t.Error("deleted meeting came back")
		}

		for _, tt := range []struct{ name, body, code, msg string }{
			{"no externalId", `{"subject":"x"}`, "BadRequest", "The request is missing the required property 'externalId'."},
			{"null externalId", `{"externalId":null}`, "BadRequest", "externalId"},
			{"setting not a parameter", `{"externalId":"e","allowRecording":true}`, "RequestBodyRead",
				"The parameter 'allowRecording' in the request payload is not a valid parameter for the operation 'createOrGet'."},
			{"end without start", `{"externalId":"e","endDateTime":"2026-01-01T00:00:00Z"}`, "BadRequest", "endDateTime"},
			{"NUL in externalId", `{"externalId":"a\u0000b"}`, "BadRequest", "NUL"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				graphError(t, h.call(http.MethodPost, path, tok, tt.body), http.StatusBadRequest, tt.code, tt.msg)
			})
		}
	})
}

func TestCreateOrGetRace(t *testing.T) {
	forEachStore(t, func(t *testing.T, h *harness) {
		tok := h.userToken()
		const n = 32
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created int
			ids     = map[string]bool{}
		)
		for range n {
			wg.Go(func() {
				r := h.call(http.MethodPost, "/v1.0/me/onlineMeetings/createOrGet", tok, `{"externalId":"race"}`)
				var m map[string]any
				_ = json.Unmarshal(r.body, &m)
				mu.Lock()
				defer mu.Unlock()
				switch r.status {
				case http.StatusCreated:
					created++
				case http.StatusOK:
				default:
					t.Errorf("status %d: %s", r.status, r.body)
					return
				}
				ids[fmt.Sprint(m["id"])] = true
			})
		}
		wg.Wait()
		if created != 1 || len(ids) != 1 {
			t.Errorf("%d concurrent createOrGet: %d got 201, %d distinct ids; want 1 and 1", n, created, len(ids))
		}
	})
}

func TestFilter(t *testing.T) {
	forEachStore(t, func(t *testing.T, h *harness) {
		tok := h.userToken()
		bob := h.iss.UserToken(t, authtest.UserOpts{OID: bobOID})
		carol := h.iss.UserToken(t, authtest.UserOpts{OID: targetUser})
		m := mustStatus(t, h.create(`{"participants":{"attendees":[{"identity":{"user":{"id":"`+bobOID+`"}}}]}}`), http.StatusCreated)
		mustStatus(t, h.create(`{}`), http.StatusCreated) // another meeting that must not match
		joinURL := m["joinWebUrl"].(string)
		joinID := m["joinMeetingIdSettings"].(map[string]any)["joinMeetingId"].(string)

		list := func(tok, filter string) response {
			return h.call(http.MethodGet, "/v1.0/me/onlineMeetings?$filter="+url.QueryEscape(filter), tok, "")
		}
		ids := func(t *testing.T, r response) []string {
			t.Helper()
			body := mustStatus(t, r, http.StatusOK)
			if c, _ := body["@odata.context"].(string); !strings.HasSuffix(c, "/onlineMeetings") {
				t.Errorf("@odata.context = %q", c)
			}
			var out []string
			for _, v := range body["value"].([]any) {
				out = append(out, v.(map[string]any)["id"].(string))
			}
			return out
		}
		want := []string{m["id"].(string)}
		for _, tt := range []struct {
			name, tok, filter string
			want              []string
		}{
			{"join url, organizer", tok, "JoinWebUrl eq '" + joinURL + "'", want},
			{"join url, any case", tok, "joinweburl EQ '" + joinURL + "'", want},
			{"join url, extra spaces", tok, "  JoinWebUrl  eq  '" + joinURL + "'  ", want},
			{"join meeting id", tok, "joinMeetingIdSettings/joinMeetingId eq '" + joinID + "'", want},
			{"invited attendee", bob, "JoinWebUrl eq '" + joinURL + "'", want},
			{"stranger", carol, "JoinWebUrl eq '" + joinURL + "'", nil},
			{"url not decoded twice", tok, "JoinWebUrl eq '" + strings.ReplaceAll(joinURL, "%3a", ":") + "'", nil},
			{"prefix is not a match", tok, "JoinWebUrl eq '" + joinURL[:len(joinURL)-3] + "'", nil},
			{"quote escape", tok, "JoinWebUrl eq 'it''s'", nil},
			{"empty literal", tok, "JoinWebUrl eq ''", nil},
			{"NUL and invalid UTF-8 in the literal", tok, "JoinWebUrl eq 'a\x00b\xff'", nil},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if got := ids(t, list(tt.tok, tt.filter)); !slices.Equal(got, tt.want) {
					t.Errorf("ids = %v, want %v", got, tt.want)
				}
			})
		}
		for _, f := range []string{"JoinWebUrl eq " + joinURL, "JoinWebUrl eq 'x", "subject eq 'x'", "JoinWebUrl ne 'x'",
			"JoinWebUrl eq 'x' or JoinWebUrl eq 'y'", "", "startswith(JoinWebUrl,'x')"} {
			t.Run("invalid "+f, func(t *testing.T) {
				graphError(t, list(tok, f), http.StatusBadRequest, "BadRequest", "Invalid filter clause")
			})
		}
	})
}

func TestListPaging(t *testing.T) {
	forEachStore(t, func(t *testing.T, h *harness) {
		tok := h.userToken()
		var all []string
		for i := range 7 {
			all = append(all, mustStatus(t, h.create(fmt.Sprintf(`{"subject":"m%d"}`, i)), http.StatusCreated)["id"].(string))
		}
		// Someone else's meeting never shows.
		mustStatus(t, h.call(http.MethodPost, "/v1.0/me/onlineMeetings", h.iss.UserToken(t, authtest.UserOpts{OID: bobOID}), `{}`), http.StatusCreated)
		slices.Reverse(all) // newest first

		var got []string
		next := "/v1.0/me/onlineMeetings?$top=3"
		var firstToken string
		for pages := 0; next != ""; pages++ {
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			body := mustStatus(t, h.call(http.MethodGet, next, tok, ""), http.StatusOK)
			for _, v := range body["value"].([]any) {
				got = append(got, v.(map[string]any)["id"].(string))
			}
			link, _ := body["@odata.nextLink"].(string)
			next = ""
			if link != "" {
				if !strings.HasPrefix(link, publicURL+"/v1.0/me/onlineMeetings?") {
					t.Fatalf("nextLink = %q", link)
				}
				next = strings.TrimPrefix(link, publicURL)
				if firstToken == "" {
					u, _ := url.Parse(link)
					firstToken = u.Query().Get("$skiptoken")
				}
			}
		}
		if !slices.Equal(got, all) {
			t.Errorf("paged ids = %v\nwant %v", got, all)
		}
		r := h.call(http.MethodGet, "/v1.0/me/onlineMeetings", tok, "")
		if r.contentLength != int64(len(r.body)) { // 7 meetings: not chunked
			t.Errorf("Content-Length = %d, want %d (the body's length)", r.contentLength, len(r.body))
		}
		body := mustStatus(t, r, http.StatusOK)
		if n := len(body["value"].([]any)); n != 7 || body["@odata.nextLink"] != nil {
			t.Errorf("default page: %d meetings, nextLink %v", n, body["@odata.nextLink"])
		}

		bob := h.iss.UserToken(t, authtest.UserOpts{OID: bobOID})
		tampered := []byte(firstToken)
		tampered[2] ^= 1
		for _, tt := range []struct{ name, tok, query, msg string }{
			{"tampered skiptoken", tok, "$skiptoken=" + url.QueryEscape(string(tampered)), "$skiptoken"},
			{"garbage skiptoken", tok, "$skiptoken=abc", "$skiptoken"},
			{"someone else's skiptoken", bob, "$skiptoken=" + url.QueryEscape(firstToken), "$skiptoken"},
			{"top 0", tok, "$top=0", "Invalid page size specified: '0'"},
			{"top 1000", tok, "$top=1000", "Must be between 1 and 999"},
			{"top not a number", tok, "$top=ten", "$top"},
			{"expand", tok, "$expand=attendanceReports", "'$expand' is not supported"},
			{"count", tok, "$count=true", "'$count' is not supported"},
			{"orderby", tok, "$orderby=subject", "'$orderby' is not supported"},
			{"search", tok, "$search=x", "'$search' is not supported"},
			{"select unknown", tok, "$select=nope", "Could not find a property named 'nope'"},
			{"top twice", tok, "$top=1&$top=2", "Query option '$top' was specified more than once, but it must be specified at most once."},
			{"filter twice", tok, "$filter=joinMeetingIdSettings/joinMeetingId%20eq%20'1'&%24filter=x", "Query option '$filter' was specified more than once"},
			{"select twice", tok, "$select=subject&$select=id", "'$select' was specified more than once"},
			{"skiptoken twice", tok, "$skiptoken=a&$skiptoken=b", "'$skiptoken' was specified more than once"},
			{"unsupported before twice", tok, "$top=1&$top=2&$count=true", "'$count' is not supported"},
			{"skiptoken with filter", tok, "$filter=JoinWebUrl%20eq%20'x'&$skiptoken=garbage", "$skiptoken cannot be combined with $filter"},
			{"valid skiptoken with filter", tok, "$filter=JoinWebUrl%20eq%20'x'&$skiptoken=" + url.QueryEscape(firstToken), "$skiptoken cannot be combined with $filter"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				graphError(t, h.call(http.MethodGet, "/v1.0/me/onlineMeetings?"+tt.query, tt.tok, ""), http.StatusBadRequest, "BadRequest", tt.msg)
			})
		}
	})
}

func TestSelect(t *testing.T) {
	h := newHarness(t, storeKinds[0].open(t))
	tok := h.userToken()
	m := mustStatus(t, h.create(`{"subject":"sel"}`), http.StatusCreated)
	path := meetingPath("/v1.0/me/onlineMeetings", m["id"].(string))
	got := mustStatus(t, h.call(http.MethodGet, path+"?$select=Subject,joinWebUrl", tok, ""), http.StatusOK)
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"@odata.context", "id", "joinWebUrl", "subject"}; !slices.Equal(keys, want) {
		t.Errorf("$select keys = %v, want %v", keys, want)
	}
	// The context names the selected properties, as OData does.
	if c, _ := got["@odata.context"].(string); !strings.HasSuffix(c, "')/onlineMeetings(subject,joinWebUrl)/$entity") {
		t.Errorf("$select @odata.context = %q", c)
	}
	list := mustStatus(t, h.call(http.MethodGet, "/v1.0/me/onlineMeetings?$select=subject", tok, ""), http.StatusOK)
	if c, _ := list["@odata.context"].(string); !strings.HasSuffix(c, "')/onlineMeetings(subject)") {
		t.Errorf("list $select @odata.context = %q", c)
	}
	for _, v := range list["value"].([]any) {
		if len(v.(map[string]any)) != 2 {
			t.Errorf("list $select=subject item = %v", v)
		}
	}
}

func TestEvolvableEnums(t *testing.T) {
	forEachStore(t, func(t *testing.T, h *harness) {
		tok := h.userToken()
		body := `{"lobbyBypassSettings":{"scope":"invited"},"participants":{"attendees":[{"identity":{"user":{"id":"` + bobOID + `"}},"role":"coorganizer"}]}}`
		check := func(t *testing.T, m map[string]any, scope, role string) {
			t.Helper()
			if got := m["lobbyBypassSettings"].(map[string]any)["scope"]; got != scope {
				t.Errorf("lobbyBypassSettings.scope = %v, want %s", got, scope)
			}
			att := m["participants"].(map[string]any)["attendees"].([]any)
			if got := att[0].(map[string]any)["role"]; got != role {
				t.Errorf("attendee role = %v, want %s", got, role)
			}
		}
		r := h.call(http.MethodPost, "/v1.0/me/onlineMeetings", tok, body)
		m := mustStatus(t, r, http.StatusCreated)
		check(t, m, "unknownFutureValue", "unknownFutureValue")
		if r.header.Get("Preference-Applied") != "" {
			t.Errorf("Preference-Applied without Prefer")
		}
		path := meetingPath("/v1.0/me/onlineMeetings", m["id"].(string))
		check(t, mustStatus(t, h.call(http.MethodGet, path, tok, ""), http.StatusOK), "unknownFutureValue", "unknownFutureValue")
		for _, prefer := range []string{"include-unknown-enum-members", "odata.maxpagesize=10, Include-Unknown-Enum-Members"} {
			r = h.call(http.MethodGet, path, tok, "", "Prefer", prefer)
			check(t, mustStatus(t, r, http.StatusOK), "invited", "coorganizer")
			if got := r.header.Get("Preference-Applied"); got != "include-unknown-enum-members" {
				t.Errorf("Preference-Applied = %q", got)
			}
		}
		list := mustStatus(t, h.call(http.MethodGet, "/v1.0/me/onlineMeetings", tok, ""), http.StatusOK)
		check(t, list["value"].([]any)[0].(map[string]any), "unknownFutureValue", "unknownFutureValue")
		patched := mustStatus(t, h.call(http.MethodPatch, path, tok, `{"subject":"x"}`, "Prefer", "include-unknown-enum-members"), http.StatusOK)
		check(t, patched, "invited", "coorganizer")
		graphError(t, h.call(http.MethodPost, "/v1.0/me/onlineMeetings", tok, `{"lobbyBypassSettings":{"scope":"unknownFutureValue"}}`),
			http.StatusBadRequest, "BadRequest", "unknownFutureValue")
	})
}

func TestAttendeeMayRead(t *testing.T) {
	h := newHarness(t, storeKinds[1].open(t))
	m := mustStatus(t, h.create(`{"participants":{"attendees":[{"identity":{"user":{"id":"`+bobOID+`"}}}]}}`), http.StatusCreated)
	path := meetingPath("/v1.0/me/onlineMeetings", m["id"].(string))
	bob := h.iss.UserToken(t, authtest.UserOpts{OID: bobOID})
	got := mustStatus(t, h.call(http.MethodGet, path, bob, ""), http.StatusOK)
	if got["id"] != m["id"] {
		t.Errorf("attendee read %v", got["id"])
	}
	// Reading is all an attendee may do.
	graphError(t, h.call(http.MethodPatch, path, bob, `{"subject":"mine"}`), http.StatusNotFound, "NotFound", "was not found")
	graphError(t, h.call(http.MethodDelete, path, bob, ""), http.StatusNotFound, "NotFound", "was not found")
	// An attendee of another tenant with the same object id is someone else.
	eve := h.iss.UserToken(t, authtest.UserOpts{OID: bobOID, TID: otherTenant})
	graphError(t, h.call(http.MethodGet, path, eve, ""), http.StatusNotFound, "NotFound", "was not found")
}

func TestUsersPath(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) { testUsersPath(t, k) })
	}
}

func testUsersPath(t *testing.T, k storeKind) {
	{
		h := newHarness(t, k.open(t), withPolicy(policy{
			authtest.TenantID + "/" + authtest.ClientID + "/" + targetUser: true,
		}))
		app := h.iss.AppToken(t, authtest.AppOpts{})
		reader := h.iss.AppToken(t, authtest.AppOpts{Roles: []string{"OnlineMeetings.Read.All"}})
		noPolicy := h.iss.AppToken(t, authtest.AppOpts{AppID: otherAppID})
		otherTenantApp := h.iss.AppToken(t, authtest.AppOpts{TID: otherTenant})
		user := h.userToken()
		base := "/v1.0/users/" + targetUser + "/onlineMeetings"

		created := mustStatus(t, h.call(http.MethodPost, base, app, `{"subject":"for carol"}`), http.StatusCreated)
		org := created["participants"].(map[string]any)["organizer"].(map[string]any)
		u := org["identity"].(map[string]any)["user"].(map[string]any)
		if u["id"] != targetUser || u["displayName"] != nil || u["tenantId"] != authtest.TenantID || org["upn"] != nil {
			t.Errorf("organizer = %v, want the path's user with unknown name and upn", org)
		}
		if c := created["@odata.context"].(string); !strings.Contains(c, "users('"+targetUser+"')") {
			t.Errorf("@odata.context = %q", c)
		}
		path := meetingPath(base, created["id"].(string))
		mustStatus(t, h.call(http.MethodGet, path, app, ""), http.StatusOK)
		mustStatus(t, h.call(http.MethodGet, path, reader, ""), http.StatusOK)
		graphError(t, h.call(http.MethodPatch, path, reader, `{"subject":"x"}`), http.StatusForbidden, "Forbidden", "OnlineMeetings.ReadWrite.All")
		mustStatus(t, h.call(http.MethodPatch, path, app, `{"subject":"renamed"}`), http.StatusOK)
		list := mustStatus(t, h.call(http.MethodGet, base, app, ""), http.StatusOK)
		if n := len(list["value"].([]any)); n != 1 {
			t.Errorf("list for the user: %d meetings", n)
		}
		cog := mustStatus(t, h.call(http.MethodPost, base+"/createOrGet", app, `{"externalId":"x"}`), http.StatusCreated)
		mustStatus(t, h.call(http.MethodPost, base+"/createOrGet", app, `{"externalId":"x"}`), http.StatusOK)

		for _, tt := range []struct {
			name, method, path, tok, body string
			status                        int
			code, msg                     string
		}{
			{"app without policy", http.MethodPost, base, noPolicy, `{}`, 403, "Forbidden", "No application access policy found for this app"},
			{"app without policy, bad body", http.MethodPost, base, noPolicy, `{"nope":1}`, 403, "Forbidden", "No application access policy found for this app"},
			{"app without policy reads", http.MethodGet, path, noPolicy, "", 403, "Forbidden", "No application access policy"},
			{"app of another tenant", http.MethodGet, path, otherTenantApp, "", 403, "Forbidden", "No application access policy"},
			{"policy is per user", http.MethodPost, "/v1.0/users/" + bobOID + "/onlineMeetings", app, `{}`, 403, "Forbidden", "No application access policy"},
			{"app on /me", http.MethodGet, "/v1.0/me/onlineMeetings", app, "", 400, "BadRequest", "/me request is only valid with delegated authentication flow."},
			{"delegated on another user", http.MethodGet, path, user, "", 403, "Forbidden", "own"},
			{"user id not a GUID", http.MethodGet, "/v1.0/users/carol@contoso.example/onlineMeetings", app, "", 404, "NotFound", "The user with id 'carol@contoso.example' was not found."},
			{"user id too long", http.MethodGet, "/v1.0/users/" + strings.Repeat("a", 100) + "/onlineMeetings", app, "", 404, "NotFound", "The user with id '" + strings.Repeat("a", 64) + "…' was not found."},
			{"delegated role-less app token", http.MethodGet, path, h.iss.AppToken(t, authtest.AppOpts{Roles: []string{"Calendars.Read"}}), "", 403, "Forbidden", "OnlineMeetings.Read.All"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				graphError(t, h.call(tt.method, tt.path, tt.tok, tt.body), tt.status, tt.code, tt.msg)
			})
		}

		// A delegated token may use its own id under /users.
		own := "/v1.0/users/" + strings.ToUpper(authtest.UserObjectID) + "/onlineMeetings"
		mine := mustStatus(t, h.call(http.MethodPost, own, user, `{}`), http.StatusCreated)
		if n := mine["participants"].(map[string]any)["organizer"].(map[string]any)["upn"]; n != authtest.UserUPN {
			t.Errorf("own /users create lost the caller's upn: %v", n)
		}
		mustStatus(t, h.call(http.MethodGet, meetingPath("/v1.0/me/onlineMeetings", mine["id"].(string)), user, ""), http.StatusOK)

		mustStatus(t, h.call(http.MethodDelete, meetingPath(base, cog["id"].(string)), app, ""), http.StatusNoContent)
		mustStatus(t, h.call(http.MethodDelete, path, app, ""), http.StatusNoContent)
		graphError(t, h.call(http.MethodGet, path, app, ""), http.StatusNotFound, "NotFound", "was not found")
	}
}

func TestGlobalPolicy(t *testing.T) {
	h := newHarness(t, storeKinds[0].open(t), withPolicy(policy{authtest.TenantID + "/" + authtest.ClientID + "/*": true}))
	app := h.iss.AppToken(t, authtest.AppOpts{})
	for _, u := range []string{targetUser, bobOID} {
		mustStatus(t, h.call(http.MethodPost, "/v1.0/users/"+u+"/onlineMeetings", app, `{}`), http.StatusCreated)
	}
}

func TestReadScopeCannotWrite(t *testing.T) {
	h := newHarness(t, storeKinds[0].open(t))
	tok := h.userToken()
	m := mustStatus(t, h.create(`{}`), http.StatusCreated)
	path := meetingPath("/v1.0/me/onlineMeetings", m["id"].(string))
	read := h.iss.UserToken(t, authtest.UserOpts{Scopes: []string{"OnlineMeetings.Read"}})
	mustStatus(t, h.call(http.MethodGet, path, read, ""), http.StatusOK)
	mustStatus(t, h.call(http.MethodGet, "/v1.0/me/onlineMeetings", read, ""), http.StatusOK)
	graphError(t, h.call(http.MethodPatch, path, read, `{"subject":"x"}`), http.StatusForbidden, "Forbidden", "OnlineMeetings.ReadWrite")
	graphError(t, h.call(http.MethodDelete, path, read, ""), http.StatusForbidden, "Forbidden", "OnlineMeetings.ReadWrite")
	graphError(t, h.call(http.MethodPost, "/v1.0/me/onlineMeetings/createOrGet", read, `{"externalId":"x"}`), http.StatusForbidden, "Forbidden", "OnlineMeetings.ReadWrite")
	none := h.iss.UserToken(t, authtest.UserOpts{Scopes: []string{"User.Read"}})
	graphError(t, h.call(http.MethodGet, path, none, ""), http.StatusForbidden, "Forbidden", "API requires one of 'OnlineMeetings.Read, OnlineMeetings.ReadWrite'")
	_ = tok
}

// TestRepeatedHeaders pins what a header parameter sent twice gets: Prefer
// lines fold into one (RFC 7240), a second client-request-id is a 400 that
// names the header, not the generated wrapper's complaint, which read as a
// malformed JSON payload.
func TestRepeatedHeaders(t *testing.T) {
	h := newHarness(t, storeKinds[0].open(t))
	tok := h.userToken()
	body := `{"lobbyBypassSettings":{"scope":"invited"}}`
	id := mustStatus(t, h.call(http.MethodPost, "/v1.0/me/onlineMeetings", tok, body), http.StatusCreated)["id"].(string)
	path := meetingPath("/v1.0/me/onlineMeetings", id)
	send := func(method, path, body string, header http.Header) response {
		t.Helper()
		req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return response{status: res.StatusCode, header: res.Header, body: b}
	}
	twoIDs := func() http.Header { return http.Header{"Client-Request-Id": {"a-1", "b-2"}} }

	tests := []struct {
		name         string
		method, path string
		body         string
		header       http.Header
	}{
		{"get", http.MethodGet, path, "", twoIDs()},
		{"list", http.MethodGet, "/v1.0/me/onlineMeetings", "", twoIDs()},
		{"create", http.MethodPost, "/v1.0/me/onlineMeetings", body, twoIDs()},
		{"patch", http.MethodPatch, path, `{"subject":"x"}`, twoIDs()},
	}
	for _, tt := range tests {
		t.Run("client-request-id twice/"+tt.name, func(t *testing.T) {
			before := h.store.creates.Load()
			graphError(t, send(tt.method, tt.path, tt.body, tt.header), http.StatusBadRequest, "BadRequest",
				"The header 'client-request-id' must be sent at most once.")
			if got := h.store.creates.Load(); got != before {
				t.Errorf("creates = %d after a refused request, want %d", got, before)
			}
		})
	}
	for _, tt := range []struct {
		name   string
		header http.Header
	}{
		{"two Content-Types", http.Header{"Content-Type": {"application/json", "text/plain"}}},
		{"identity, then gzip", http.Header{"Content-Encoding": {"identity", "gzip"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := h.store.creates.Load()
			req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/v1.0/me/onlineMeetings", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.header
			req.Header.Set("Authorization", "Bearer "+tok)
			if req.Header.Get("Content-Type") == "" {
				req.Header.Set("Content-Type", "application/json")
			}
			res, err := h.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			graphError(t, response{status: res.StatusCode, header: res.Header, body: b}, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "")
			if got := h.store.creates.Load(); got != before {
				t.Errorf("creates = %d after a refused request, want %d", got, before)
			}
		})
	}
	t.Run("Prefer twice", func(t *testing.T) {
		r := send(http.MethodGet, path, "", http.Header{"Prefer": {"odata.maxpagesize=10", "include-unknown-enum-members"}})
		m := mustStatus(t, r, http.StatusOK)
		if got := m["lobbyBypassSettings"].(map[string]any)["scope"]; got != "invited" {
			t.Errorf("lobbyBypassSettings.scope = %v, want invited (the second Prefer line honoured)", got)
		}
		if got := r.header.Get("Preference-Applied"); got != "include-unknown-enum-members" {
			t.Errorf("Preference-Applied = %q, want include-unknown-enum-members", got)
		}
	})
	if got := mustStatus(t, h.call(http.MethodGet, path, tok, ""), http.StatusOK)["subject"]; got != nil {
		t.Errorf("subject = %v after a refused PATCH, want null", got)
	}
}

// TestPatchStoredOutOfRangeTime pins that a meeting stored before
// date-times were range-checked, with a start in year 0000 (which earlier
// builds accepted), can still be patched: stored times are decoded as they
// are, and only new input must lie in years 1 to 9999.
func TestPatchStoredOutOfRangeTime(t *testing.T) {
	forEachStore(t, func(t *testing.T, h *harness) {
		tok := h.userToken()
		m := mustStatus(t, h.call(http.MethodPost, "/v1.0/me/onlineMeetings", tok,
			`{"startDateTime":"2030-01-01T00:00:00Z","endDateTime":"2030-01-01T01:00:00Z"}`), http.StatusCreated)
		owner := store.Owner{TenantID: authtest.TenantID, UserID: authtest.UserObjectID}
		if _, err := h.store.Update(t.Context(), owner, m["id"].(string), func(sm *store.Meeting) error {
			sm.Resource = bytes.Replace(sm.Resource, []byte(`"startDateTime":"2030-01-01T00:00:00Z"`), []byte(`"startDateTime":"0000-12-31T23:00:00Z"`), 1)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		path := meetingPath("/v1.0/me/onlineMeetings", m["id"].(string))
		got := mustStatus(t, h.call(http.MethodPatch, path, tok, `{"subject":"still patchable"}`), http.StatusOK)
		if got["subject"] != "still patchable" || got["startDateTime"] != "0000-12-31T23:00:00Z" {
			t.Errorf("patched meeting: subject %v, startDateTime %v", got["subject"], got["startDateTime"])
		}
	})
}
