package handlers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/onlinemeetings/onlinemeetings/auth"
	"github.com/onlinemeetings/onlinemeetings/auth/authtest"
	"github.com/onlinemeetings/onlinemeetings/gen"
	"github.com/onlinemeetings/onlinemeetings/graphtime"
	"github.com/onlinemeetings/onlinemeetings/handlers"
	"github.com/onlinemeetings/onlinemeetings/store"
	"github.com/onlinemeetings/onlinemeetings/store/memory"
)

var (
	guidRE     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	threadIDRE = regexp.MustCompile(`^19:meeting_[A-Za-z0-9+/=]{48}@thread\.v2$`)
	digits13RE = regexp.MustCompile(`^[1-9][0-9]{12}$`)
	passcodeRE = regexp.MustCompile(`^[A-Za-z0-9]{8}$`)
	graphTime  = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z$`)
)

const successContentType = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"

// allProperties are the members every meeting response carries: every
// non-navigation property of onlineMeeting, null when unset.
var allProperties = []string{
	"@odata.context", "allowAttendeeToEnableCamera", "allowAttendeeToEnableMic", "allowBreakoutRooms",
	"allowCopyingAndSharingMeetingContent", "allowLiveShare", "allowMeetingChat", "allowParticipantsToChangeName",
	"allowPowerPointSharing", "allowRecording", "allowTeamworkReactions", "allowTranscription", "allowWhiteboard",
	"allowedLobbyAdmitters", "allowedPresenters", "attendeeReport", "audioConferencing", "broadcastSettings",
	"chatInfo", "chatRestrictions", "cloudVideoInteropInfo", "creationDateTime", "endDateTime", "expiryDateTime",
	"externalId", "id", "isBroadcast", "isEndToEndEncryptionEnabled", "isEntryExitAnnounced", "joinInformation",
	"joinMeetingIdSettings", "joinWebUrl", "lobbyBypassSettings", "meetingOptionsWebUrl", "meetingSpokenLanguageTag",
	"meetingTemplateId", "meetingType", "participants", "recordAutomatically", "sensitivityLabelAssignment",
	"shareMeetingChatHistoryDefault", "startDateTime", "subject", "videoTeleconferenceId", "watermarkProtection",
}

// TestCreateSeedRequest sends the request of Graph's documentation page and
// checks the whole answer.
func TestCreateSeedRequest(t *testing.T) {
	forEachStore(t, func(t *testing.T, h *harness) {
		before := time.Now().UTC().Add(-time.Second)
		r := h.do(http.MethodPost, "/v1.0/me/onlineMeetings", map[string]string{
			"Authorization":     "Bearer " + h.userToken(),
			"Content-Type":      "application/json",
			"client-request-id": "7b7d1c3c-52b6-4d4e-9f64-0123456789ab",
		}, strings.NewReader(`{
  "startDateTime":"2019-07-12T14:30:34.2444915-07:00",
  "endDateTime":"2019-07-12T15:00:34.2464912-07:00",
  "subject":"User Token Meeting"
}`))
		if r.status != http.StatusCreated {
			t.Fatalf("status = %d, want 201: %s", r.status, r.body)
		}
		if got := r.header.Get("Content-Type"); got != successContentType {
			t.Errorf("Content-Type = %q, want %q", got, successContentType)
		}
		// The meeting (about 2.5 KB) is sent with its length, not chunked.
		if r.contentLength != int64(len(r.body)) {
			t.Errorf("Content-Length = %d, want %d (the body's length)", r.contentLength, len(r.body))
		}
		if got := r.header.Get("client-request-id"); got != "7b7d1c3c-52b6-4d4e-9f64-0123456789ab" {
			t.Errorf("client-request-id = %q, want it echoed", got)
		}
		if !guidRE.MatchString(r.header.Get("request-id")) {
			t.Errorf("request-id = %q, want a GUID", r.header.Get("request-id"))
		}
		if !bytes.HasPrefix(r.body, []byte(`{"@odata.context":`)) {
			t.Errorf("body does not start with @odata.context: %.60s", r.body)
		}
		m := r.json(t)
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		want := slices.Clone(allProperties)
		slices.Sort(want)
		if diff := cmp.Diff(want, keys); diff != "" {
			t.Errorf("response members (-want +got):\n%s", diff)
		}

		oid, tid := authtest.UserObjectID, authtest.TenantID
		if got, want := m["@odata.context"], publicURL+"/v1.0/$metadata#users('"+oid+"')/onlineMeetings/$entity"; got != want {
			t.Errorf("@odata.context = %v, want %v", got, want)
		}
		chat := m["chatInfo"].(map[string]any)
		thread, _ := chat["threadId"].(string)
		if !threadIDRE.MatchString(thread) {
			t.Errorf("chatInfo.threadId = %q, want 19:meeting_…@thread.v2", thread)
		}
		if diff := cmp.Diff(map[string]any{"threadId": thread, "messageId": "0", "replyChainMessageId": nil}, chat); diff != "" {
			t.Errorf("chatInfo (-want +got):\n%s", diff)
		}
		id, _ := m["id"].(string)
		raw, err := base64.StdEncoding.DecodeString(id)
		if err != nil || string(raw) != "1*"+oid+"*0**"+thread {
			t.Errorf("id = %q decodes to %q (%v), want 1*%s*0**%s", id, raw, err, oid, thread)
		}
		wantURL := "https://teams.microsoft.com/l/meetup-join/" +
			strings.NewReplacer(":", "%3a", "@", "%40").Replace(thread) +
			"/0?context=%7b%22Tid%22%3a%22" + tid + "%22%2c%22Oid%22%3a%22" + oid + "%22%7d"
		if got := m["joinWebUrl"]; got != wantURL {
			t.Errorf("joinWebUrl = %v, want %v", got, wantURL)
		}
		if got, want := m["startDateTime"], "2019-07-12T21:30:34.2444915Z"; got != want {
			t.Errorf("startDateTime = %v, want %v", got, want)
		}
		if got, want := m["endDateTime"], "2019-07-12T22:00:34.2464912Z"; got != want {
			t.Errorf("endDateTime = %v, want %v", got, want)
		}
		created, _ := m["creationDateTime"].(string)
		ct, err := time.Parse(time.RFC3339Nano, created)
		if !graphTime.MatchString(created) || err != nil || ct.Before(before) || ct.After(time.Now().Add(time.Second)) {
			t.Errorf("creationDateTime = %q, want now in Graph's form", created)
		}
		if got := m["subject"]; got != "User Token Meeting" {
			t.Errorf("subject = %v", got)
		}
		jm := m["joinMeetingIdSettings"].(map[string]any)
		if jid, _ := jm["joinMeetingId"].(string); !digits13RE.MatchString(jid) {
			t.Errorf("joinMeetingId = %v, want 13 digits", jm["joinMeetingId"])
		}
		if jm["isPasscodeRequired"] != false || jm["passcode"] != nil {
			t.Errorf("joinMeetingIdSettings = %v, want no passcode", jm)
		}
		wantParticipants := map[string]any{
			"organizer": map[string]any{
				"identity": map[string]any{"user": map[string]any{
					"id": oid, "displayName": authtest.UserName, "tenantId": tid, "identityProvider": "AAD",
				}},
				"role": "presenter",
				"upn":  authtest.UserUPN,
			},
			"attendees": []any{},
		}
		if diff := cmp.Diff(wantParticipants, m["participants"]); diff != "" {
			t.Errorf("participants (-want +got):\n%s", diff)
		}
		defaults := map[string]any{
			"allowedPresenters": "everyone", "isEntryExitAnnounced": true, "allowMeetingChat": "enabled",
			"allowTeamworkReactions": true, "allowAttendeeToEnableCamera": true, "allowAttendeeToEnableMic": true,
			"allowParticipantsToChangeName": false, "recordAutomatically": false,
			"lobbyBypassSettings": map[string]any{"scope": "organization", "isDialInBypassEnabled": false},
			"audioConferencing":   nil, "externalId": nil, "joinInformation": nil, "videoTeleconferenceId": nil,
			"expiryDateTime": nil, "meetingOptionsWebUrl": nil, "allowRecording": nil, "meetingType": nil,
		}
		for k, want := range defaults {
			if diff := cmp.Diff(want, m[k]); diff != "" {
				t.Errorf("%s (-want +got):\n%s", k, diff)
			}
		}

		// What was acknowledged is in the store, under the caller.
		sm, err := h.store.Get(context.Background(), store.Owner{TenantID: tid, UserID: oid}, id)
		if err != nil {
			t.Fatalf("store.Get(%q): %v", id, err)
		}
		if sm.JoinMeetingID != jm["joinMeetingId"] || sm.JoinWebURL != wantURL {
			t.Errorf("stored meeting = %+v, does not match the response", sm)
		}
	})
}

// TestCreateWithGeneratedClient drives the server with the generated Go
// client, as a Go user of the contract would.
func TestCreateWithGeneratedClient(t *testing.T) {
	h := newHarness(t, storeKinds[0].open(t))
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	subject := "Planning <Q2> & budget"
	res, err := h.client.CreateOnlineMeetingWithResponse(context.Background(), nil, gen.OnlineMeetingCreate{
		Subject:               &subject,
		StartDateTime:         &graphtime.Time{Time: start},
		JoinMeetingIDSettings: &gen.JoinMeetingIDSettingsInput{IsPasscodeRequired: ptr(true)},
		LobbyBypassSettings:   &gen.LobbyBypassSettingsInput{Scope: ptr(gen.LobbyBypassScopeInputEveryone)},
		Participants: &gen.MeetingParticipantsInput{Attendees: &[]gen.MeetingParticipantInfoInput{{
			Identity: &gen.IdentitySetInput{User: &gen.IdentityInput{ID: ptr("5a7e6c1d-2b3c-4d5e-8f90-a1b2c3d4e5f6")}},
			Upn:      ptr("alex@contoso.example"),
		}}},
	}, bearer(h.userToken()))
	if err != nil {
		t.Fatal(err)
	}
	m := res.JSON201
	if res.StatusCode() != http.StatusCreated || m == nil {
		t.Fatalf("status = %d, body %s", res.StatusCode(), res.Body)
	}
	if !bytes.Contains(res.Body, []byte(`"Planning <Q2> & budget"`)) {
		t.Errorf("subject was HTML-escaped: %s", res.Body)
	}
	if got := m.StartDateTime.Time; !got.Equal(start) || m.StartDateTime.Location() != time.UTC {
		t.Errorf("startDateTime = %v, want %v in UTC", got, start)
	}
	if got := m.EndDateTime.Sub(m.StartDateTime.Time); got != time.Hour {
		t.Errorf("end - start = %v, want 1h", got)
	}
	if p := m.JoinMeetingIDSettings.Passcode; p == nil || !passcodeRE.MatchString(*p) {
		t.Errorf("passcode = %v, want 8 characters of [A-Za-z0-9]", p)
	}
	if got := *m.LobbyBypassSettings.Scope; got != gen.LobbyBypassScopeEveryone {
		t.Errorf("lobbyBypassSettings.scope = %v", got)
	}
	if got := *m.LobbyBypassSettings.IsDialInBypassEnabled; got {
		t.Errorf("lobbyBypassSettings.isDialInBypassEnabled = %v, want the default false", got)
	}
	att := *m.Participants.Attendees
	if len(att) != 1 || *att[0].Role != gen.OnlineMeetingRoleAttendee || *att[0].Upn != "alex@contoso.example" {
		t.Errorf("attendees = %+v", att)
	}
}

func TestCreateTimes(t *testing.T) {
	h := newHarness(t, storeKinds[0].open(t))
	tests := []struct {
		name       string
		body       string
		start, end string // "" = check against now
	}{
		{"no start, no end", `{}`, "", ""},
		{"start only", `{"startDateTime":"2020-09-09T14:33:30.8546353-07:00"}`, "2020-09-09T21:33:30.8546353Z", "2020-09-09T22:33:30.8546353Z"},
		{"equal start and end", `{"startDateTime":"2020-01-01T00:00:00Z","endDateTime":"2020-01-01T00:00:00+00:00"}`, "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z"},
		{"nine digits are truncated to seven", `{"startDateTime":"2020-01-01T00:00:00.123456789Z","endDateTime":"2020-01-01T01:00:00.100Z"}`, "2020-01-01T00:00:00.1234567Z", "2020-01-01T01:00:00.1Z"},
		{"null times mean absent", `{"startDateTime":null,"endDateTime":null}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.create(tt.body)
			if r.status != http.StatusCreated {
				t.Fatalf("status = %d: %s", r.status, r.body)
			}
			m := r.json(t)
			start, end := m["startDateTime"].(string), m["endDateTime"].(string)
			if tt.start == "" {
				s, _ := time.Parse(time.RFC3339Nano, start)
				e, _ := time.Parse(time.RFC3339Nano, end)
				if time.Since(s) > 5*time.Second || e.Sub(s) != time.Hour || !graphTime.MatchString(start) {
					t.Errorf("start, end = %s, %s; want now and now + 1h", start, end)
				}
				return
			}
			if start != tt.start || end != tt.end {
				t.Errorf("start, end = %s, %s; want %s, %s", start, end, tt.start, tt.end)
			}
		})
	}
}

// TestCreateAccepted covers inputs Graph accepts that a strict validator
// might wrongly refuse.
func TestCreateAccepted(t *testing.T) {
	h := newHarness(t, storeKinds[0].open(t))
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, m map[string]any)
	}{
		{"@odata.type on the meeting", `{"@odata.type":"#microsoft.graph.onlineMeeting","subject":"x"}`, nil},
		{"@odata.type on nested objects", `{"participants":{"@odata.type":"#microsoft.graph.meetingParticipants","attendees":[{"@odata.type":"#microsoft.graph.meetingParticipantInfo","identity":{"@odata.type":"#microsoft.graph.identitySet","user":{"@odata.type":"#microsoft.graph.identity","id":"x"}}}]},"lobbyBypassSettings":{"@odata.type":"#microsoft.graph.lobbyBypassSettings","scope":"everyone"}}`, nil},
		{"null subject", `{"subject":null}`, func(t *testing.T, m map[string]any) {
			if m["subject"] != nil {
				t.Errorf("subject = %v, want null", m["subject"])
			}
		}},
		{"organizer equal to the caller", `{"participants":{"organizer":{"identity":{"user":{"id":"` + authtest.UserObjectID + `","tenantId":"` + authtest.TenantID + `","displayName":"Test User"}},"upn":"` + authtest.UserUPN + `","role":"presenter"}}}`, nil},
		{"settings are kept", `{"allowedPresenters":"organizer","allowMeetingChat":"limited","isEntryExitAnnounced":false,"recordAutomatically":true,"watermarkProtection":{"isEnabledForVideo":true},"chatRestrictions":{"allowTextOnly":true},"meetingSpokenLanguageTag":"en-US"}`, func(t *testing.T, m map[string]any) {
			want := map[string]any{"allowedPresenters": "organizer", "allowMeetingChat": "limited", "isEntryExitAnnounced": false,
				"recordAutomatically": true, "meetingSpokenLanguageTag": "en-US",
				"watermarkProtection": map[string]any{"isEnabledForVideo": true, "isEnabledForContentSharing": nil},
				"chatRestrictions":    map[string]any{"allowTextOnly": true}}
			for k, w := range want {
				if diff := cmp.Diff(w, m[k]); diff != "" {
					t.Errorf("%s (-want +got):\n%s", k, diff)
				}
			}
		}},
		{"Content-Type with charset and odata parameters", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r response
			if tt.body == "" {
				r = h.do(http.MethodPost, "/v1.0/me/onlineMeetings", map[string]string{
					"Authorization": "Bearer " + h.userToken(),
					"Content-Type":  "Application/JSON; charset=UTF-8; odata.metadata=minimal",
				}, strings.NewReader(`{"subject":"ct"}`))
			} else {
				r = h.create(tt.body)
			}
			if r.status != http.StatusCreated {
				t.Fatalf("status = %d: %s", r.status, r.body)
			}
			if tt.check != nil {
				tt.check(t, r.json(t))
			}
		})
	}
}

// TestCreateRejected covers every way a create body can be wrong: each gets
// Graph's status, code and message, and nothing is stored.
func TestCreateRejected(t *testing.T) {
	const notExist = "does not exist on type 'microsoft.graph.onlineMeeting'. Make sure to only use property names that are defined by the type."
	tests := []struct {
		name        string
		contentType string
		headers     map[string]string
		body        string
		status      int
		code, msg   string
	}{
		{"malformed JSON", "", nil, `{"subject":`, 400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."},
		{"trailing data", "", nil, `{"subject":"a"} {"subject":"b"}`, 400, "BadRequest", "Unable to read JSON request payload"},
		{"trailing garbage", "", nil, `{"subject":"a"}xyz`, 400, "BadRequest", "Unable to read JSON request payload"},
		{"empty body", "", nil, ``, 400, "BadRequest", "Unable to read JSON request payload"},
		{"not an object", "", nil, `["subject"]`, 400, "BadRequest", "Unable to read JSON request payload"},
		{"no Content-Type", "-", nil, `{"subject":"a"}`, 400, "BadRequest", "Unable to read JSON request payload"},
		{"text/plain", "text/plain", nil, `{"subject":"a"}`, 415, "UnsupportedMediaType", "application/json"},
		{"json-patch", "application/json-patch+json", nil, `{"subject":"a"}`, 415, "UnsupportedMediaType", ""},
		{"latin1 charset", "application/json; charset=latin1", nil, `{"subject":"a"}`, 415, "UnsupportedMediaType", ""},
		{"gzip body", "", map[string]string{"Content-Encoding": "gzip"}, `{"subject":"a"}`, 415, "UnsupportedMediaType", "gzip"},
		{"wrong type", "", nil, `{"subject":5}`, 400, "BadRequest", "'subject' to the expected type 'Edm.String'"},
		{"wrong type nested", "", nil, `{"lobbyBypassSettings":{"isDialInBypassEnabled":"yes"}}`, 400, "BadRequest", "'lobbyBypassSettings.isDialInBypassEnabled' to the expected type 'Edm.Boolean'"},
		{"unknown property", "", nil, `{"bogus":true}`, 400, "RequestBodyRead", "The property 'bogus' " + notExist},
		{"letter-case variant", "", nil, `{"Subject":"a"}`, 400, "RequestBodyRead", "The property 'Subject' " + notExist},
		{"letter-case variant of id", "", nil, `{"ID":"evil"}`, 400, "RequestBodyRead", "The property 'ID' " + notExist},
		{"unknown nested property", "", nil, `{"lobbyBypassSettings":{"bogus":1}}`, 400, "RequestBodyRead", "The property 'bogus' does not exist on type 'microsoft.graph.lobbyBypassSettings'"},
		{"id", "", nil, `{"id":"x"}`, 400, "RequestBodyRead", "'id'"},
		{"creationDateTime", "", nil, `{"creationDateTime":"2020-01-01T00:00:00Z"}`, 400, "RequestBodyRead", "'creationDateTime'"},
		{"joinWebUrl", "", nil, `{"joinWebUrl":"https://x"}`, 400, "RequestBodyRead", "'joinWebUrl'"},
		{"joinInformation", "", nil, `{"joinInformation":{"content":"x"}}`, 400, "RequestBodyRead", "'joinInformation'"},
		{"audioConferencing", "", nil, `{"audioConferencing":null}`, 400, "RequestBodyRead", "'audioConferencing'"},
		{"chatInfo", "", nil, `{"chatInfo":{"threadId":"x"}}`, 400, "RequestBodyRead", "'chatInfo'"},
		{"videoTeleconferenceId", "", nil, `{"videoTeleconferenceId":"1"}`, 400, "RequestBodyRead", "'videoTeleconferenceId'"},
		{"externalId", "", nil, `{"externalId":"e1"}`, 400, "RequestBodyRead", "'externalId' cannot be set in this request: it can only be set with createOrGet"},
		{"expiryDateTime", "", nil, `{"expiryDateTime":"2020-01-01T00:00:00Z"}`, 400, "RequestBodyRead", "'expiryDateTime'"},
		{"meetingOptionsWebUrl", "", nil, `{"meetingOptionsWebUrl":"x"}`, 400, "RequestBodyRead", "'meetingOptionsWebUrl'"},
		{"joinMeetingId", "", nil, `{"joinMeetingIdSettings":{"joinMeetingId":"1234567890123"}}`, 400, "RequestBodyRead", "'joinMeetingIdSettings.joinMeetingId'"},
		{"passcode", "", nil, `{"joinMeetingIdSettings":{"isPasscodeRequired":true,"passcode":"abc"}}`, 400, "RequestBodyRead", "'joinMeetingIdSettings.passcode'"},
		{"navigation property", "", nil, `{"attendanceReports":[]}`, 400, "RequestBodyRead", "'attendanceReports'"},
		{"recordings", "", nil, `{"recordings":[]}`, 400, "RequestBodyRead", "'recordings'"},
		{"organizer not the caller", "", nil, `{"participants":{"organizer":{"identity":{"user":{"id":"5a7e6c1d-2b3c-4d5e-8f90-a1b2c3d4e5f6"}}}}}`, 400, "RequestBodyRead", "'participants.organizer'"},
		{"date without offset", "", nil, `{"startDateTime":"2024-01-19T13:38:22.169688","endDateTime":"2024-01-19T14:38:22Z"}`, 400, "BadRequest", "Cannot convert the literal '2024-01-19T13:38:22.169688' to the expected type 'Edm.DateTimeOffset'."},
		{"not a date", "", nil, `{"startDateTime":"yesterday"}`, 400, "BadRequest", "Cannot convert the literal 'yesterday' to the expected type 'Edm.DateTimeOffset'."},
		{"impossible date", "", nil, `{"startDateTime":"2019-13-12T14:30:00Z"}`, 400, "BadRequest", "Cannot convert the literal '2019-13-12T14:30:00Z'"},
		{"second 60", "", nil, `{"startDateTime":"2030-01-01T00:00:00Z","endDateTime":"2030-01-01T00:00:60Z"}`, 400, "BadRequest", "Cannot convert the literal '2030-01-01T00:00:60Z' to the expected type 'Edm.DateTimeOffset'."},
		{"February 30", "", nil, `{"startDateTime":"2030-02-30T00:00:00Z"}`, 400, "BadRequest", "Cannot convert the literal '2030-02-30T00:00:00Z'"},
		{"after year 9999 in UTC", "", nil, `{"startDateTime":"9999-12-31T23:30:00-05:00"}`, 400, "BadRequest", "Cannot convert the literal '9999-12-31T23:30:00-05:00' to the expected type 'Edm.DateTimeOffset'."},
		{"before year 1 in UTC", "", nil, `{"startDateTime":"0001-01-01T00:30:00+01:00","endDateTime":"2030-01-01T00:00:00Z"}`, 400, "BadRequest", "Cannot convert the literal '0001-01-01T00:30:00+01:00'"},
		{"default end after year 9999", "", nil, `{"startDateTime":"9999-12-31T23:30:00Z"}`, 400, "BadRequest", "endDateTime is required when startDateTime is less than an hour before 9999-12-31T23:59:59.9999999Z."},
		{"end before start", "", nil, `{"startDateTime":"2020-01-01T10:00:00Z","endDateTime":"2020-01-01T09:59:59Z"}`, 400, "BadRequest", "endDateTime must be equal to or later than startDateTime"},
		{"end without start", "", nil, `{"endDateTime":"2020-01-01T10:00:00Z"}`, 400, "BadRequest", "endDateTime cannot be set without startDateTime"},
		{"wrong @odata.type", "", nil, `{"@odata.type":"#microsoft.graph.event"}`, 400, "BadRequest", "A type named 'microsoft.graph.event' could not be resolved"},
		{"wrong nested @odata.type", "", nil, `{"lobbyBypassSettings":{"@odata.type":"#microsoft.graph.onlineMeeting"}}`, 400, "BadRequest", "could not be resolved"},
		{"unknown enum member", "", nil, `{"allowedPresenters":"nobody"}`, 400, "BadRequest", "'nobody'"},
		{"number for an enum", "", nil, `{"lobbyBypassSettings":{"scope":5}}`, 400, "BadRequest", "Cannot convert the value of property 'lobbyBypassSettings.scope' to the expected type 'microsoft.graph.lobbyBypassScope'."},
		{"number for @odata.type", "", nil, `{"@odata.type":5}`, 400, "BadRequest", "Cannot convert the value of property '@odata.type' to the expected type 'Edm.String'."},
		{"subject too long", "", nil, `{"subject":"` + strings.Repeat("s", 4097) + `"}`, 400, "BadRequest", "'subject'"},
	}
	forEachStore(t, func(t *testing.T, h *harness) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				hdr := map[string]string{"Authorization": "Bearer " + h.userToken(), "Content-Type": "application/json"}
				switch tt.contentType {
				case "":
				case "-":
					hdr["Content-Type"] = ""
				default:
					hdr["Content-Type"] = tt.contentType
				}
				for k, v := range tt.headers {
					hdr[k] = v
				}
				before := h.store.creates.Load()
				r := h.do(http.MethodPost, "/v1.0/me/onlineMeetings", hdr, strings.NewReader(tt.body))
				graphError(t, r, tt.status, tt.code, tt.msg)
				if n := h.store.creates.Load() - before; n != 0 {
					t.Errorf("%d meetings stored for a rejected request", n)
				}
			})
		}
	})
}

func TestCreateBodyLimit(t *testing.T) {
	h := newHarness(t, storeKinds[0].open(t))
	big := `{"subject":"` + strings.Repeat("a", handlers.MaxBodyBytes) + `"}`
	t.Run("Content-Length", func(t *testing.T) {
		r := h.create(big)
		graphError(t, r, 413, "RequestEntityTooLarge", "")
	})
	t.Run("chunked", func(t *testing.T) {
		// An io.Reader without a known length is sent chunked.
		r := h.do(http.MethodPost, "/v1.0/me/onlineMeetings", map[string]string{
			"Authorization": "Bearer " + h.userToken(), "Content-Type": "application/json",
		}, io.MultiReader(strings.NewReader(big)))
		graphError(t, r, 413, "RequestEntityTooLarge", "")
	})
	if n := h.store.creates.Load(); n != 0 {
		t.Errorf("%d meetings stored", n)
	}
}

// TestCheckOrder pins the order in which problems are reported: 413 → 401 →
// 403 (and 400 for app-only on /me) → 415 → 400 → handler.
func TestCheckOrder(t *testing.T) {
	h := newHarness(t, storeKinds[0].open(t))
	readOnly := h.iss.UserToken(t, authtest.UserOpts{Scopes: []string{"OnlineMeetings.Read"}})
	app := h.iss.AppToken(t, authtest.AppOpts{})
	huge := strings.Repeat("x", handlers.MaxBodyBytes+1)
	tests := []struct {
		name   string
		token  string
		ct     string
		body   string
		status int
		code   string
	}{
		{"413 before 401", "", "text/plain", huge, 413, "RequestEntityTooLarge"},
		{"401 before 415", "", "text/plain", `{}`, 401, "InvalidAuthenticationToken"},
		{"401 before 400", "", "application/json", `{"bogus":1}`, 401, "InvalidAuthenticationToken"},
		{"403 before 415", readOnly, "text/plain", `{}`, 403, "Forbidden"},
		{"app-only 400 before 415", app, "text/plain", `{}`, 400, "BadRequest"},
		{"415 before 400", h.userToken(), "text/plain", `{"bogus":1}`, 415, "UnsupportedMediaType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{"Content-Type": tt.ct}
			if tt.token != "" {
				hdr["Authorization"] = "Bearer " + tt.token
			}
			r := h.do(http.MethodPost, "/v1.0/me/onlineMeetings", hdr, strings.NewReader(tt.body))
			graphError(t, r, tt.status, tt.code, "")
		})
	}
}

func TestTokenRules(t *testing.T) {
	h := newHarness(t, storeKinds[0].open(t))
	iss := h.iss
	other := authtest.NewIssuer(t) // a different issuer with its own keys
	tests := []struct {
		name          string
		authorization string
		status        int
		code, msg     string
		wwwAuth       string
	}{
		{"no token", "", 401, "InvalidAuthenticationToken", "Access token is empty.", "Bearer"},
		{"empty bearer", "Bearer ", 401, "InvalidAuthenticationToken", "Access token is empty.", "Bearer"},
		{"garbage", "Bearer not-a-jwt", 401, "InvalidAuthenticationToken", "Access token validation failure.", `Bearer error="invalid_token"`},
		{"basic auth", "Basic dXNlcjpwYXNz", 401, "InvalidAuthenticationToken", "Access token validation failure.", `Bearer error="invalid_token"`},
		{"expired", "Bearer " + iss.UserToken(t, authtest.UserOpts{TTL: -time.Minute}), 401, "InvalidAuthenticationToken", "Access token validation failure.", `Bearer error="invalid_token"`},
		{"wrong audience", "Bearer " + iss.UserToken(t, authtest.UserOpts{Extra: map[string]any{"aud": "api://other"}}), 401, "InvalidAuthenticationToken", "Access token validation failure.", `Bearer error="invalid_token"`},
		{"other issuer", "Bearer " + other.UserToken(t, authtest.UserOpts{}), 401, "InvalidAuthenticationToken", "Access token validation failure.", `Bearer error="invalid_token"`},
		{"oid not a GUID", "Bearer " + iss.UserToken(t, authtest.UserOpts{OID: "alice"}), 401, "InvalidAuthenticationToken", "", ""},
		{"tid not a GUID", "Bearer " + iss.UserToken(t, authtest.UserOpts{TID: "contoso"}), 401, "InvalidAuthenticationToken", "", ""},
		{"neither scp nor roles", "Bearer " + iss.UserToken(t, authtest.UserOpts{Scopes: []string{}}), 401, "InvalidAuthenticationToken", "", ""},
		{"read scope only", "Bearer " + iss.UserToken(t, authtest.UserOpts{Scopes: []string{"OnlineMeetings.Read"}}), 403, "Forbidden", "OnlineMeetings.ReadWrite", ""},
		{"scope that only contains the name", "Bearer " + iss.UserToken(t, authtest.UserOpts{Scopes: []string{"OnlineMeetings.ReadWrite.All", "XOnlineMeetings.ReadWrite"}}), 403, "Forbidden", "OnlineMeetings.ReadWrite", ""},
		{"personal account", "Bearer " + iss.UserToken(t, authtest.UserOpts{TID: "9188040d-6c67-4c5b-b112-36a304b66dad"}), 403, "Forbidden", "Personal Microsoft accounts", ""},
		{"app-only token on /me", "Bearer " + iss.AppToken(t, authtest.AppOpts{}), 400, "BadRequest", "/me request is only valid with delegated authentication flow.", ""},
		{"scope split on a no-break space", "Bearer " + iss.UserToken(t, authtest.UserOpts{Scopes: []string{"User.Read\u00a0OnlineMeetings.ReadWrite"}}), 403, "Forbidden", "OnlineMeetings.ReadWrite", ""},
		{"exp as a string", "Bearer " + iss.UserToken(t, authtest.UserOpts{Extra: map[string]any{"exp": strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)}}), 401, "InvalidAuthenticationToken", "Access token validation failure.", `Bearer error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(http.MethodPost, "/v1.0/me/onlineMeetings", map[string]string{
				"Authorization": tt.authorization, "Content-Type": "application/json",
			}, strings.NewReader(`{"subject":"x"}`))
			graphError(t, r, tt.status, tt.code, tt.msg)
			if tt.wwwAuth != "" {
				if got := r.header.Get("WWW-Authenticate"); got != tt.wwwAuth {
					t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wwwAuth)
				}
			}
		})
	}
	t.Run("ES256 token", func(t *testing.T) {
		tok := iss.TokenES256(t, map[string]any{"oid": authtest.UserObjectID, "tid": authtest.TenantID, "scp": "OnlineMeetings.ReadWrite"})
		r := h.do(http.MethodPost, "/v1.0/me/onlineMeetings", map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}, strings.NewReader(`{}`))
		if r.status != http.StatusCreated {
			t.Fatalf("status = %d: %s", r.status, r.body)
		}
		m := r.json(t)
		org := m["participants"].(map[string]any)["organizer"].(map[string]any)
		if org["upn"] != nil || org["identity"].(map[string]any)["user"].(map[string]any)["displayName"] != nil {
			t.Errorf("organizer = %v, want null upn and displayName for a token without them", org)
		}
	})
	t.Run("two Authorization headers", func(t *testing.T) {
		good := "Bearer " + iss.UserToken(t, authtest.UserOpts{})
		for _, second := range []string{good, "Bearer garbage"} {
			req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/v1.0/me/onlineMeetings", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Add("Authorization", good)
			req.Header.Add("Authorization", second)
			res, err := h.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			graphError(t, response{status: res.StatusCode, header: res.Header, body: body}, 401, "InvalidAuthenticationToken", "Access token validation failure.")
			if got := res.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
				t.Errorf("WWW-Authenticate = %q", got)
			}
		}
	})
	if n := h.store.creates.Load(); n != 1 {
		t.Errorf("%d meetings stored, want only the ES256 one", n)
	}
}

func TestCorrelationHeaders(t *testing.T) {
	h := newHarness(t, storeKinds[0].open(t))
	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"guid", "0f8fad5b-d9cb-469f-a165-70867728950e", true},
		{"128 chars", strings.Repeat("a", 128), true},
		{"129 chars", strings.Repeat("a", 129), false},
		{"bad characters", "abc<script>", false},
		{"none", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(http.MethodPost, "/v1.0/me/onlineMeetings", map[string]string{
				"Content-Type": "application/json", "client-request-id": tt.sent,
			}, strings.NewReader(`{}`))
			graphError(t, r, 401, "InvalidAuthenticationToken", "")
			got, rid := r.header.Get("client-request-id"), r.header.Get("request-id")
			if tt.echoed && got != tt.sent {
				t.Errorf("client-request-id = %q, want %q echoed", got, tt.sent)
			}
			if !tt.echoed && got != rid {
				t.Errorf("client-request-id = %q, want request-id %q", got, rid)
			}
		})
	}
}

func TestRoutingErrors(t *testing.T) {
	h := newHarness(t, storeKinds[0].open(t))
	graphError(t, h.do(http.MethodGet, "/v1.0/me/nothing", nil, nil), 400, "BadRequest", "Resource not found for the segment 'nothing'.")
	graphError(t, h.do(http.MethodGet, "/elsewhere", nil, nil), 404, "NotFound", "")
	// The router hands a route's last parameter whatever follows it; a path
	// below a meeting is an unknown segment, as any other, token or not.
	id := mustStatus(t, h.create(`{}`), http.StatusCreated)["id"].(string)
	for _, tt := range []struct{ path, segment string }{
		{"/v1.0/me/onlineMeetings/" + id + "/attendanceReports", "attendanceReports"},
		{"/v1.0/me/onlineMeetings/" + id + "/a/b", "a"},
		{"/v1.0/me/onlineMeetings//" + id, ""},
		{"/v1.0/me/onlineMeetings/createOrGet/x", "x"},
		{"/v1.0/users/" + authtest.UserObjectID + "/onlineMeetings/" + id + "/recordings", "recordings"},
	} {
		for _, hdr := range []map[string]string{nil, {"Authorization": "Bearer " + h.userToken()}} {
			graphError(t, h.do(http.MethodGet, tt.path, hdr, nil), 400, "BadRequest", "Resource not found for the segment '"+tt.segment+"'.")
		}
	}
	// A trailing slash is dropped: the collection, the meeting.
	tok := map[string]string{"Authorization": "Bearer " + h.userToken()}
	for _, p := range []string{"/v1.0/me/onlineMeetings/", "/v1.0/me/onlineMeetings/" + id + "/", "/v1.0/users/" + authtest.UserObjectID + "/onlineMeetings/" + id + "/"} {
		if r := h.do(http.MethodGet, p, tok, nil); r.status != http.StatusOK {
			t.Errorf("GET %s = %d, want 200: %s", p, r.status, r.body)
		}
	}
	// An escaped slash is part of the id: no such meeting.
	graphError(t, h.do(http.MethodGet, "/v1.0/me/onlineMeetings/"+id+"%2Fx", map[string]string{"Authorization": "Bearer " + h.userToken()}, nil),
		404, "NotFound", "was not found")
	r := h.do(http.MethodPut, "/v1.0/me/onlineMeetings", map[string]string{"Authorization": "Bearer " + h.userToken()}, nil)
	graphError(t, r, 405, "MethodNotAllowed", "")
	if r := h.do(http.MethodGet, "/healthz", nil, nil); r.status != 200 {
		t.Errorf("/healthz = %d", r.status)
	}
	if r := h.do(http.MethodGet, "/readyz", nil, nil); r.status != 200 {
		t.Errorf("/readyz = %d: %s", r.status, r.body)
	}
}

// TestPanicIsGraph500 makes the store panic: the client gets a 500 Graph
// error with the request id, and the server keeps serving.
func TestPanicIsGraph500(t *testing.T) {
	h := newHarness(t, storeKinds[0].open(t))
	h.store.panicOn.Store(true)
	r := h.create(`{}`)
	graphError(t, r, 500, "generalException", "request-id")
	if strings.Contains(string(r.body), "test store panic") {
		t.Errorf("panic details leaked to the client: %s", r.body)
	}
	h.store.panicOn.Store(false)
	if r := h.create(`{}`); r.status != http.StatusCreated {
		t.Errorf("after a panic: status = %d, want 201", r.status)
	}
}

// TestNotReady: until the issuer is discovered, API calls get 503 with
// Retry-After and /readyz reports 503.
func TestNotReady(t *testing.T) {
	h := newHarnessWith(t, authtest.NewIssuer(t), storeKinds[0].open(t), neverReady{})
	r := h.create(`{}`)
	graphError(t, r, 503, "serviceNotAvailable", "")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if r := h.do(http.MethodGet, "/readyz", nil, nil); r.status != 503 {
		t.Errorf("/readyz = %d, want 503", r.status)
	}
}

// TestReadyz checks /readyz against stores that answer, fail, and hang in
// Ping without heeding its context, as SQLite does when blocked in a system
// call on a frozen or hung disk: the check must still answer 503 within
// ReadyTimeout, so that a load balancer's probe sees a failure rather than
// its own timeout, and a probe made while the hung Ping has not returned
// must not wait for it either.
func TestReadyz(t *testing.T) {
	const readyTimeout = 100 * time.Millisecond
	tests := []struct {
		name       string
		ping       func(ctx context.Context, release <-chan struct{}) error
		wantStatus []int // one per probe, sent one after the other
	}{
		{"answers", func(context.Context, <-chan struct{}) error { return nil }, []int{200, 200}},
		{"fails", func(context.Context, <-chan struct{}) error { return store.ErrUnavailable }, []int{503, 503}},
		{"hangs", func(_ context.Context, release <-chan struct{}) error { <-release; return nil }, []int{503, 503}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release) // lets a hung Ping return before the server closes
			st := &pingStore{Store: memory.New(), ping: func(ctx context.Context) error { return tt.ping(ctx, release) }}
			h := newHarness(t, st, func(c *handlers.Config) { c.ReadyTimeout = readyTimeout })
			client := &http.Client{Timeout: 5 * time.Second}
			for i, want := range tt.wantStatus {
				start := time.Now()
				res, err := client.Get(h.srv.URL + "/readyz")
				if err != nil {
					t.Fatalf("probe %d: GET /readyz: %v, want %d within ReadyTimeout", i, err, want)
				}
				res.Body.Close()
				if res.StatusCode != want {
					t.Errorf("probe %d: /readyz = %d, want %d", i, res.StatusCode, want)
				}
				if d := time.Since(start); d > readyTimeout+time.Second {
					t.Errorf("probe %d: /readyz took %v, want at most ReadyTimeout (%v) and a little", i, d, readyTimeout)
				}
			}
		})
	}
}

// TestReadyzConcurrent sends overlapping readiness probes (several load
// balancers, or a kubelet beside one) while the store's Ping takes a
// while: each answers 200 from a Ping it shares, none fails because
// another probe's Ping is still running, and the probes share fewer Pings
// than there are probes.
func TestReadyzConcurrent(t *testing.T) {
	const probes = 8
	var pings atomic.Int32
	st := &pingStore{Store: memory.New(), ping: func(context.Context) error {
		pings.Add(1)
		time.Sleep(50 * time.Millisecond)
		return nil
	}}
	h := newHarness(t, st, func(c *handlers.Config) { c.ReadyTimeout = 2 * time.Second })
	client := &http.Client{Timeout: 5 * time.Second}
	statuses := make([]int, probes)
	var wg sync.WaitGroup
	for i := range probes {
		wg.Go(func() {
			res, err := client.Get(h.srv.URL + "/readyz")
			if err != nil {
				t.Errorf("probe %d: %v", i, err)
				return
			}
			res.Body.Close()
			statuses[i] = res.StatusCode
		})
	}
	wg.Wait()
	for i, got := range statuses {
		if got != http.StatusOK {
			t.Errorf("probe %d: /readyz = %d, want 200 (all: %v)", i, got, statuses)
		}
	}
	if n := pings.Load(); n >= probes {
		t.Errorf("%d probes ran %d Pings, want them to share", probes, n)
	}
}

// pingStore is a store whose Ping the test decides.
type pingStore struct {
	store.Store
	ping func(context.Context) error
}

func (s *pingStore) Ping(ctx context.Context) error { return s.ping(ctx) }

type neverReady struct{}

func (neverReady) Verify(context.Context, string) (*auth.Principal, error) {
	return nil, auth.ErrNotReady
}
func (neverReady) Ready() bool { return false }

// TestConcurrentCreates: identifiers stay unique under concurrent creates.
func TestConcurrentCreates(t *testing.T) {
	forEachStore(t, func(t *testing.T, h *harness) {
		const n = 64
		tok := h.userToken()
		var mu sync.Mutex
		ids, joinIDs := map[string]bool{}, map[string]bool{}
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				res, err := h.client.CreateOnlineMeetingWithResponse(context.Background(), nil, gen.OnlineMeetingCreate{}, bearer(tok))
				if err != nil || res.JSON201 == nil {
					t.Errorf("create: %v %v", err, res)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				ids[*res.JSON201.ID] = true
				joinIDs[*res.JSON201.JoinMeetingIDSettings.JoinMeetingID] = true
			})
		}
		wg.Wait()
		if len(ids) != n || len(joinIDs) != n {
			t.Errorf("%d ids and %d join meeting ids for %d creates, want all unique", len(ids), len(joinIDs), n)
		}
	})
}

func ptr[T any](v T) *T { return &v }
