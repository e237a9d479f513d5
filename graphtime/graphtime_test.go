package graphtime

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// date returns the UTC instant y-mo-d h:mi:s.ns.
func date(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
}

func TestMarshalJSON(t *testing.T) {
	pdt := time.FixedZone("PDT", -7*60*60)
	ist := time.FixedZone("IST", 5*60*60+30*60)
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"six digits", date(2019, 7, 11, 2, 47, 17, 651138000), `"2019-07-11T02:47:17.651138Z"`},
		{"whole seconds", date(2018, 5, 30, 1, 0, 0, 0), `"2018-05-30T01:00:00Z"`},
		{"seven digits", date(2019, 7, 12, 21, 30, 34, 244491500), `"2019-07-12T21:30:34.2444915Z"`},
		{"nine digits truncated to seven", date(2019, 7, 12, 21, 30, 34, 123456789), `"2019-07-12T21:30:34.1234567Z"`},
		{"below 100 ns dropped", date(2019, 7, 12, 21, 30, 34, 99), `"2019-07-12T21:30:34Z"`},
		{"trailing zeros dropped", date(2020, 1, 2, 3, 4, 5, 100000000), `"2020-01-02T03:04:05.1Z"`},
		{"last tick", date(2020, 1, 2, 3, 4, 5, 900), `"2020-01-02T03:04:05.0000009Z"`},
		{"negative offset to UTC", time.Date(2019, 7, 12, 14, 30, 34, 244491500, pdt), `"2019-07-12T21:30:34.2444915Z"`},
		{"offset crosses midnight", time.Date(2020, 1, 1, 2, 0, 0, 0, ist), `"2019-12-31T20:30:00Z"`},
		{"local time zone", date(2021, 3, 4, 5, 6, 7, 0).Local(), `"2021-03-04T05:06:07Z"`},
		{"zero time", time.Time{}, `"0001-01-01T00:00:00Z"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Time{tt.in}.MarshalJSON()
			if err != nil {
				t.Fatalf("MarshalJSON(%v) error = %v", tt.in, err)
			}
			if string(got) != tt.want {
				t.Errorf("MarshalJSON(%v) = %s, want %s", tt.in, got, tt.want)
			}
			// Through encoding/json, as a field of a generated model.
			got, err = json.Marshal(struct {
				T Time `json:"t"`
			}{Time{tt.in}})
			if err != nil {
				t.Fatalf("json.Marshal(%v) error = %v", tt.in, err)
			}
			if want := `{"t":` + tt.want + `}`; string(got) != want {
				t.Errorf("json.Marshal(%v) = %s, want %s", tt.in, got, want)
			}
			if got, want := (Time{tt.in}).String(), strings.Trim(tt.want, `"`); got != want {
				t.Errorf("String(%v) = %q, want %q", tt.in, got, want)
			}
		})
	}
}

func TestUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want time.Time
	}{
		{"Z", `"2018-05-30T01:00:00Z"`, date(2018, 5, 30, 1, 0, 0, 0)},
		{"negative offset", `"2019-07-12T14:30:34.2444915-07:00"`, date(2019, 7, 12, 21, 30, 34, 244491500)},
		{"positive offset", `"2019-07-13T03:00:34.2464912+05:30"`, date(2019, 7, 12, 21, 30, 34, 246491200)},
		{"+00:00", `"2019-07-12T21:30:34+00:00"`, date(2019, 7, 12, 21, 30, 34, 0)},
		{"offset crosses year", `"2019-12-31T23:30:00-01:00"`, date(2020, 1, 1, 0, 30, 0, 0)},
		{"0 digits", `"2019-07-11T02:47:17Z"`, date(2019, 7, 11, 2, 47, 17, 0)},
		{"1 digit", `"2019-07-11T02:47:17.6Z"`, date(2019, 7, 11, 2, 47, 17, 600000000)},
		{"3 digits", `"2019-07-11T02:47:17.651Z"`, date(2019, 7, 11, 2, 47, 17, 651000000)},
		{"6 digits", `"2019-07-11T02:47:17.651138Z"`, date(2019, 7, 11, 2, 47, 17, 651138000)},
		{"7 digits", `"2019-07-11T02:47:17.6511389Z"`, date(2019, 7, 11, 2, 47, 17, 651138900)},
		{"8 digits truncated", `"2019-07-11T02:47:17.65113899Z"`, date(2019, 7, 11, 2, 47, 17, 651138900)},
		{"9 digits truncated", `"2019-07-11T02:47:17.651138999Z"`, date(2019, 7, 11, 2, 47, 17, 651138900)},
		{"9 digits with offset", `"2019-07-11T04:47:17.123456789+02:00"`, date(2019, 7, 11, 2, 47, 17, 123456700)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Time
			if err := got.UnmarshalJSON([]byte(tt.in)); err != nil {
				t.Fatalf("UnmarshalJSON(%s) error = %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("UnmarshalJSON(%s) = %v, want %v", tt.in, got.Time, tt.want)
			}
			if got.Location() != time.UTC {
				t.Errorf("UnmarshalJSON(%s) location = %v, want UTC", tt.in, got.Location())
			}
			if ns := got.Nanosecond() % int(Precision); ns != 0 {
				t.Errorf("UnmarshalJSON(%s) has %d ns below Graph's 100 ns precision", tt.in, ns)
			}
		})
	}
}

func TestUnmarshalJSONNullLeavesValue(t *testing.T) {
	want := date(2018, 5, 30, 1, 0, 0, 0)
	got := Time{want}
	if err := got.UnmarshalJSON([]byte("null")); err != nil {
		t.Fatalf("UnmarshalJSON(null) error = %v", err)
	}
	if !got.Equal(want) {
		t.Errorf("UnmarshalJSON(null) = %v, want unchanged %v", got.Time, want)
	}

	// Through encoding/json: a null field and a missing one keep the value.
	for _, in := range []string{`{"t":null}`, `{}`} {
		v := struct {
			T Time `json:"t"`
		}{Time{want}}
		if err := json.Unmarshal([]byte(in), &v); err != nil {
			t.Fatalf("json.Unmarshal(%s) error = %v", in, err)
		}
		if !v.T.Equal(want) {
			t.Errorf("json.Unmarshal(%s) = %v, want unchanged %v", in, v.T.Time, want)
		}
	}
}

// TestParseRange pins Parse's range, which requests must meet, and that
// UnmarshalJSON, which also reads stored meetings, takes any year.
func TestParseRange(t *testing.T) {
	for _, in := range []string{"9999-12-31T23:30:00-05:00", "0001-01-01T00:30:00+01:00", "0000-06-01T00:00:00Z"} {
		if got, err := Parse(in); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("Parse(%q) = %v, %v; want ErrOutOfRange", in, got, err)
		}
		var v Time
		if err := v.UnmarshalJSON([]byte(`"` + in + `"`)); err != nil {
			t.Errorf("UnmarshalJSON(%q) error = %v, want the time as stored", in, err)
		}
	}
	for _, in := range []string{"0001-01-01T00:00:00Z", "9999-12-31T23:59:59.9999999Z", "9999-12-31T23:59:59.999999999Z"} {
		if _, err := Parse(in); err != nil {
			t.Errorf("Parse(%q) error = %v", in, err)
		}
	}
}

func TestUnmarshalJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		// is, when set, is the error errors.Is must find.
		is error
	}{
		{"no offset", `"2019-07-12T14:30:34.2444915"`, ErrNoOffset},
		{"no offset, no fraction", `"2019-07-12T14:30:34"`, ErrNoOffset},
		{"no offset, nine digits", `"2019-07-12T14:30:34.123456789"`, ErrNoOffset},
		{"date only", `"2019-07-12"`, nil},
		{"garbage", `"tomorrow"`, nil},
		{"empty string", `""`, nil},
		{"space instead of T", `"2019-07-12 14:30:34Z"`, nil},
		{"offset without colon", `"2019-07-12T14:30:34+0700"`, nil},
		{"hour 24", `"2019-07-12T24:00:00Z"`, nil},
		{"February 30", `"2019-02-30T00:00:00Z"`, nil},
		{"second 60", `"2019-12-31T23:59:60Z"`, nil},
		{"trailing text", `"2019-07-11T02:47:17Z and more"`, nil},
		{"number", `1562813237`, nil},
		{"true", `true`, nil},
		{"object", `{"dateTime":"2019-07-11T02:47:17Z"}`, nil},
		{"array", `["2019-07-11T02:47:17Z"]`, nil},
		{"unterminated string", `"2019-07-11T02:47:17Z`, nil},
		{"empty input", ``, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := date(2000, 1, 1, 0, 0, 0, 0)
			got := Time{want}
			err := got.UnmarshalJSON([]byte(tt.in))
			if err == nil {
				t.Fatalf("UnmarshalJSON(%s) = %v, want an error", tt.in, got.Time)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("UnmarshalJSON(%s) error = %v, want %v", tt.in, err, tt.is)
			}
			if tt.is == nil && errors.Is(err, ErrNoOffset) {
				t.Errorf("UnmarshalJSON(%s) error = %v, want an error other than ErrNoOffset", tt.in, err)
			}
			if !got.Equal(want) {
				t.Errorf("UnmarshalJSON(%s) changed the value to %v on error", tt.in, got.Time)
			}
		})
	}
}

func TestParseFormatRoundTrip(t *testing.T) {
	tests := []struct {
		in   string
		want string // Format(Parse(in))
	}{
		{"2019-07-11T02:47:17.651138Z", "2019-07-11T02:47:17.651138Z"},
		{"2018-05-30T01:00:00Z", "2018-05-30T01:00:00Z"},
		{"2018-05-30T01:00:00.000Z", "2018-05-30T01:00:00Z"},
		{"2019-07-12T14:30:34.2444915-07:00", "2019-07-12T21:30:34.2444915Z"},
		{"2019-07-12T14:30:34.123456789-07:00", "2019-07-12T21:30:34.1234567Z"},
		{"0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"},
		{"9999-12-31T23:59:59.9999999Z", "9999-12-31T23:59:59.9999999Z"},
		{"9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59.9999999Z"}, // truncated to Max
		{"9999-12-31T23:30:00+05:00", "9999-12-31T18:30:00Z"},
		{"0001-01-01T00:30:00-01:00", "0001-01-01T01:30:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", tt.in, err)
			}
			got := Format(p)
			if got != tt.want {
				t.Errorf("Format(Parse(%q)) = %q, want %q", tt.in, got, tt.want)
			}
			// Graph's form is a fixed point.
			p2, err := Parse(got)
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", got, err)
			}
			if !p2.Equal(p) || Format(p2) != got {
				t.Errorf("Parse(%q) = %v, want %v", got, p2, p)
			}
		})
	}
}

func TestNew(t *testing.T) {
	in := time.Date(2019, 7, 12, 14, 30, 34, 123456789, time.FixedZone("", -7*60*60))
	got := New(in)
	want := date(2019, 7, 12, 21, 30, 34, 123456700)
	if diff := cmp.Diff(want, got.Time); diff != "" {
		t.Errorf("New(%v) mismatch (-want +got):\n%s", in, diff)
	}
	if got, want := string(Append([]byte("at "), in)), "at 2019-07-12T21:30:34.1234567Z"; got != want {
		t.Errorf("Append(%q, %v) = %q, want %q", "at ", in, got, want)
	}
}

// FuzzParse checks that whatever Parse accepts is normalised (UTC, 100 ns)
// and that Graph's form of it parses back to the same instant and is a fixed
// point of Format∘Parse; and that JSON marshalling round-trips it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"2019-07-11T02:47:17.651138Z",
		"2018-05-30T01:00:00Z",
		"2019-07-12T14:30:34.2444915-07:00",
		"2019-07-12T14:30:34.123456789+05:30",
		"2019-07-12T14:30:34",
		"0001-01-01T00:00:00+01:00",
		"9999-12-31T23:59:59.999999999-23:59",
		"",
		"garbage",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		if p.Location() != time.UTC {
			t.Fatalf("Parse(%q) location = %v, want UTC", s, p.Location())
		}
		if p.Nanosecond()%int(Precision) != 0 {
			t.Fatalf("Parse(%q) = %v, not at 100 ns precision", s, p)
		}
		formatted := Format(p)
		if !strings.HasSuffix(formatted, "Z") {
			t.Fatalf("Format(Parse(%q)) = %q, want a trailing Z", s, formatted)
		}
		if p.Year() < 0 || p.Year() > 9999 {
			// RFC 3339 has four-digit years; an offset can push an accepted
			// value outside them, and then Format need not parse back.
			return
		}
		back, err := Parse(formatted)
		if err != nil {
			t.Fatalf("Parse(Format(Parse(%q))) = Parse(%q) error = %v", s, formatted, err)
		}
		if !back.Equal(p) {
			t.Fatalf("Parse(Format(Parse(%q))) = %v, want %v", s, back, p)
		}
		if again := Format(back); again != formatted {
			t.Fatalf("Format is not a fixed point: Format(Parse(%q)) = %q, want %q", formatted, again, formatted)
		}

		b, err := json.Marshal(Time{p})
		if err != nil {
			t.Fatalf("json.Marshal(%v) error = %v", p, err)
		}
		var u Time
		if err := json.Unmarshal(b, &u); err != nil {
			t.Fatalf("json.Unmarshal(%s) error = %v", b, err)
		}
		if !u.Equal(p) {
			t.Fatalf("json round trip of %v = %v", p, u.Time)
		}
	})
}
