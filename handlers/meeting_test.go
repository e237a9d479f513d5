package handlers

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onlinemeetings/onlinemeetings/graphtime"
)

func TestMeetingTimes(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)
	at := func(s string) *graphtime.Time {
		v, err := graphtime.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return &graphtime.Time{Time: v}
	}
	tests := []struct {
		name       string
		start, end *graphtime.Time
		wantStart  string
		wantEnd    string
		wantErr    string
	}{
		{"neither: now and an hour", nil, nil, "2026-11-26T10:00:00.1234567Z", "2026-11-26T11:00:00.1234567Z", ""},
		{"start only: an hour", at("2019-07-12T14:30:34.2444915-07:00"), nil, "2019-07-12T21:30:34.2444915Z", "2019-07-12T22:30:34.2444915Z", ""},
		{"both, offsets normalised", at("2019-07-12T14:30:34.2444915-07:00"), at("2019-07-12T15:00:34.2464912-07:00"), "2019-07-12T21:30:34.2444915Z", "2019-07-12T22:00:34.2464912Z", ""},
		{"equal", at("2020-01-01T00:00:00Z"), at("2020-01-01T01:00:00+01:00"), "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", ""},
		{"end only", nil, at("2020-01-01T00:00:00Z"), "", "", "without startDateTime"},
		{"end before start", at("2020-01-01T00:00:01Z"), at("2020-01-01T00:00:00Z"), "", "", "later than startDateTime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, e, err := meetingTimes(tt.start, tt.end, now)
			if tt.wantErr != "" {
				if err == nil || err.Status != 400 || !strings.Contains(err.Message, tt.wantErr) {
					t.Fatalf("meetingTimes() error = %v, want 400 containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("meetingTimes() error = %v", err)
			}
			if got := graphtime.Format(s); got != tt.wantStart {
				t.Errorf("start = %s, want %s", got, tt.wantStart)
			}
			if got := graphtime.Format(e); got != tt.wantEnd {
				t.Errorf("end = %s, want %s", got, tt.wantEnd)
			}
		})
	}
}

func TestIdentifiers(t *testing.T) {
	const oid, tid = "4b75189b-c195-403b-bac4-bf03f2295ebc", "72f988bf-86f1-41af-91ab-2d7cd011db47"
	const thread = "19:meeting_ODI3Y2M5Y2EtMjFmMS00MjVhLWJlMTYtN2FmMjE4OTIxYmE4@thread.v2"
	// A real Graph id (issue msgraph-sdk-dotnet#2350) decodes to this.
	if got, want := meetingID(oid, thread), base64.StdEncoding.EncodeToString([]byte("1*"+oid+"*0**"+thread)); got != want {
		t.Errorf("meetingID = %s, want %s", got, want)
	}
	wantURL := "https://teams.microsoft.com/l/meetup-join/19%3ameeting_ODI3Y2M5Y2EtMjFmMS00MjVhLWJlMTYtN2FmMjE4OTIxYmE4%40thread.v2/0?context=%7b%22Tid%22%3a%2272f988bf-86f1-41af-91ab-2d7cd011db47%22%2c%22Oid%22%3a%224b75189b-c195-403b-bac4-bf03f2295ebc%22%7d"
	if got := joinWebURL(thread, tid, oid); got != wantURL {
		t.Errorf("joinWebURL =\n %s\nwant\n %s", got, wantURL)
	}
	seen := map[string]bool{}
	for range 1000 {
		ids := newMeetingIDs(time.Now())
		if !strings.HasPrefix(ids.threadID, "19:meeting_") || !strings.HasSuffix(ids.threadID, "@thread.v2") || len(ids.threadID) != 11+48+10 {
			t.Fatalf("threadID = %q", ids.threadID)
		}
		if len(ids.joinMeetingID) != 13 || ids.joinMeetingID[0] == '0' || strings.Trim(ids.joinMeetingID, "0123456789") != "" {
			t.Fatalf("joinMeetingID = %q, want 13 digits", ids.joinMeetingID)
		}
		if len(ids.passcode) != 8 || strings.Trim(ids.passcode, passcodeAlphabet) != "" {
			t.Fatalf("passcode = %q", ids.passcode)
		}
		if seen[ids.threadID] || seen[ids.joinMeetingID] {
			t.Fatalf("identifier repeated after %d draws", len(seen))
		}
		seen[ids.threadID], seen[ids.joinMeetingID] = true, true
	}
}

// TestRandomStringIsUniform checks each alphabet symbol is drawn about
// equally often (no modulo bias).
func TestRandomStringIsUniform(t *testing.T) {
	const n = 62 * 2000
	counts := map[byte]int{}
	s := randomString(n, passcodeAlphabet)
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	if len(counts) != len(passcodeAlphabet) {
		t.Fatalf("%d distinct symbols, want %d", len(counts), len(passcodeAlphabet))
	}
	for c, k := range counts {
		if k < 1600 || k > 2400 { // expected 2000, sd ≈ 44
			t.Errorf("symbol %q drawn %d times in %d, want about 2000", c, k, n)
		}
	}
}

// TestTimeOrderedGUID checks the thread GUID's layout (RFC 9562 version 7:
// the creation time in milliseconds, version and variant bits, the rest
// random) and the property the stores' indexes rely on: meetings made in
// the same few milliseconds get thread ids, meeting ids and join URLs with
// a long common prefix, and the random bits still differ.
func TestTimeOrderedGUID(t *testing.T) {
	// At the start of a 16 ms step, so at and at + 1 ms agree on the
	// GUID's first 12 hex digits.
	at := time.UnixMilli(time.Date(2026, 11, 27, 5, 50, 0, 123_000_000, time.UTC).UnixMilli() &^ 15).Add(456_789)
	g := timeOrderedGUID(at)
	if len(g) != 36 || g[8] != '-' || g[13] != '-' || g[18] != '-' || g[23] != '-' {
		t.Fatalf("GUID %q is not 8-4-4-4-12", g)
	}
	hexms := strings.ReplaceAll(g[:13], "-", "")
	ms, err := strconv.ParseUint(hexms, 16, 64)
	if err != nil || int64(ms) != at.UnixMilli() {
		t.Errorf("GUID %q holds time %d ms (%v), want %d", g, ms, err, at.UnixMilli())
	}
	if g[14] != '7' || !strings.ContainsRune("89ab", rune(g[19])) {
		t.Errorf("GUID %q: version %c, variant %c; want 7 and one of 8, 9, a, b", g, g[14], g[19])
	}
	if g != strings.ToLower(g) {
		t.Errorf("GUID %q is not lower case", g)
	}

	const oid, tid = "4b75189b-c195-403b-bac4-bf03f2295ebc", "72f988bf-86f1-41af-91ab-2d7cd011db47"
	a, b := newThreadID(at), newThreadID(at.Add(time.Millisecond))
	if a == b {
		t.Fatalf("two thread ids are equal: %q", a)
	}
	common := func(x, y string) int {
		n := 0
		for n < min(len(x), len(y)) && x[n] == y[n] {
			n++
		}
		return n
	}
	// The base64 of the GUID's first 12 hex digits (the time down to 16 ms)
	// is the first 16 characters after "19:meeting_".
	for _, c := range []struct {
		what string
		x, y string
		min  int
	}{
		{"thread ids", a, b, len("19:meeting_") + 16},
		{"join URLs", joinWebURL(a, tid, oid), joinWebURL(b, tid, oid), len(joinURLPrefix) + len("19%3ameeting_") + 16},
		{"meeting ids", meetingID(oid, a), meetingID(oid, b), (2 + 36 + 4 + 11 + 15) / 3 * 4},
	} {
		if n := common(c.x, c.y); n < c.min {
			t.Errorf("%s 1 ms apart share %d leading bytes, want at least %d:\n %s\n %s", c.what, n, c.min, c.x, c.y)
		}
	}
	// A day apart, the prefix differs early: the order is by time, not fixed.
	if n := common(a, newThreadID(at.Add(24*time.Hour))); n >= len("19:meeting_")+8 {
		t.Errorf("thread ids a day apart share %d leading bytes", n)
	}
	// The 74 random bits: many GUIDs of one millisecond are all different.
	seen := map[string]bool{}
	for range 10000 {
		g := timeOrderedGUID(at)
		if seen[g] {
			t.Fatalf("GUID %q drawn twice", g)
		}
		seen[g] = true
	}
}

// TestMayHoldEvolvable checks the quick search that decides whether a
// stored meeting goes through hideEvolvable: every evolvable member as a
// role or a scope is found; the same words elsewhere, and ordinary roles and
// scopes, are not.
func TestMayHoldEvolvable(t *testing.T) {
	organizer := `"participants":{"attendees":[%s],"organizer":{"role":"presenter","upn":"a@b"}}`
	for _, tt := range []struct {
		name, json string
		want       bool
	}{
		{"ordinary", `{"subject":"x",` + fmt.Sprintf(organizer, "") + `,"lobbyBypassSettings":{"scope":"organization"}}`, false},
		{"words elsewhere", `{"subject":"producer coorganizer invited","externalId":"organizationExcludingGuests",` + fmt.Sprintf(organizer, "") + `}`, false},
		{"attendee producer", `{` + fmt.Sprintf(organizer, `{"role":"attendee"},{"role":"producer"}`) + `}`, true},
		{"attendee coorganizer", `{` + fmt.Sprintf(organizer, `{"role":"coorganizer","upn":"c@d"}`) + `}`, true},
		{"scope invited", `{"lobbyBypassSettings":{"isDialInBypassEnabled":false,"scope":"invited"}}`, true},
		{"scope organizationExcludingGuests", `{"lobbyBypassSettings":{"scope":"organizationExcludingGuests"}}`, true},
		{"prefix of a member", `{"lobbyBypassSettings":{"scope":"invitedX"}}`, false},
		{"name ending in role", `{"xrole":"producer","xscope":"invited",` + fmt.Sprintf(organizer, "") + `}`, false},
		{"unterminated", `{"participants":{"organizer":{"role":"producer`, false},
		{"escaped quote", `{"subject":"\"role\":\"x","lobbyBypassSettings":{"scope":"invited"}}`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := mayHoldEvolvable([]byte(tt.json)); got != tt.want {
				t.Errorf("mayHoldEvolvable(%s) = %v, want %v", tt.json, got, tt.want)
			}
		})
	}
}
