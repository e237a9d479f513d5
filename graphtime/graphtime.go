// Package graphtime provides the date-time type used by the generated API
// models, so that every Edm.DateTimeOffset the server writes has Graph's form:
// UTC, a trailing Z, and up to seven fractional digits with trailing zeros
// dropped (2019-07-11T02:47:17.651138Z, 2018-05-30T01:00:00Z).
package graphtime

import (
	"bytes"
	"errors"
	"strconv"
	"time"
)

// Precision is the resolution of Graph date-times (.NET ticks).
const Precision = 100 * time.Nanosecond

// layout writes up to seven fractional digits and drops trailing zeros.
const layout = "2006-01-02T15:04:05.9999999Z07:00"

// Time is a time.Time that marshals as a Graph Edm.DateTimeOffset. It only
// unmarshals strings with an explicit offset (Z or ±hh:mm): Graph rejects a
// date-time without one, and so do we.
type Time struct {
	time.Time
}

// New returns t as a Time, normalised to UTC at Graph's precision.
func New(t time.Time) Time { return Time{Normalize(t)} }

// Normalize converts t to UTC and truncates it to Graph's 100 ns precision.
func Normalize(t time.Time) time.Time { return t.UTC().Truncate(Precision) }

// Format returns t in Graph's form.
func Format(t time.Time) string { return string(Append(nil, t)) }

// Append appends t in Graph's form to b.
func Append(b []byte, t time.Time) []byte { return Normalize(t).AppendFormat(b, layout) }

// ErrNoOffset is returned for a date-time without a UTC offset.
var ErrNoOffset = errors.New("graphtime: date-time has no UTC offset")

// ErrOutOfRange is returned for a date-time that is, in UTC, before Min or
// after Max: an Edm.DateTimeOffset cannot hold it, and Graph's form, with
// its four-digit year, cannot write it.
var ErrOutOfRange = errors.New("graphtime: date-time outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.9999999Z")

// Min and Max are the earliest and the latest date-times Graph's form can
// write (those of .NET's DateTimeOffset, in UTC).
var (
	Min = time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)
	Max = time.Date(9999, time.December, 31, 23, 59, 59, 999_999_900, time.UTC)
)

// Parse parses an ISO 8601 / RFC 3339 date-time with an offset (0 to 9
// fractional digits) and returns it normalised to UTC. A date-time that is
// between Min and Max only before its offset is applied
// (9999-12-31T23:30:00-05:00) is out of range.
func Parse(s string) (time.Time, error) {
	t, err := parseAnyYear(s)
	if err != nil {
		return time.Time{}, err
	}
	if t.Before(Min) || t.After(Max) {
		return time.Time{}, ErrOutOfRange
	}
	return t, nil
}

// parseAnyYear is Parse without the range check.
func parseAnyYear(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		if _, err2 := time.Parse("2006-01-02T15:04:05.999999999", s); err2 == nil {
			return time.Time{}, ErrNoOffset
		}
		return time.Time{}, err
	}
	return Normalize(t), nil
}

// MarshalJSON writes t in Graph's form.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(layout)+2)
	b = append(b, '"')
	b = Append(b, t.Time)
	return append(b, '"'), nil
}

// UnmarshalJSON reads a date-time string with an offset; null leaves t
// unchanged. It takes any year, as meetings stored before Parse checked the
// range may hold one (0000-12-31T23:00:00Z, say) and must still decode;
// requests meet Parse's range in validation, before they are decoded.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return errors.New("graphtime: date-time must be a JSON string")
	}
	v, err := parseAnyYear(s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// String returns t in Graph's form.
func (t Time) String() string { return Format(t.Time) }
