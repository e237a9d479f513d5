package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// Identifiers in the forms Graph uses today. Every random part comes from
// crypto/rand, so ids, thread ids and join URLs cannot be guessed.

const (
	joinMeetingIDDigits = 13
	passcodeLength      = 8
	passcodeAlphabet    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	conferenceIDDigits  = 9
	joinURLPrefix       = "https://teams.microsoft.com/l/meetup-join/"
)

// newMeetingIDs draws fresh random identifiers for one meeting created at
// now.
func newMeetingIDs(now time.Time) meetingIDs {
	return meetingIDs{
		threadID:      newThreadID(now),
		joinMeetingID: randomDigits(joinMeetingIDDigits),
		passcode:      randomString(passcodeLength, passcodeAlphabet),
		conferenceID:  randomDigits(conferenceIDDigits),
	}
}

// newThreadID returns a Teams meeting chat thread id:
// 19:meeting_{base64 of a GUID}@thread.v2, the GUID time-ordered (see
// timeOrderedGUID) from now.
func newThreadID(now time.Time) string {
	return "19:meeting_" + base64.StdEncoding.EncodeToString([]byte(timeOrderedGUID(now))) + "@thread.v2"
}

// meetingID is Graph's current onlineMeeting id: the base64 of
// 1*{organizerOid}*0**{threadId}.
func meetingID(organizerOID, threadID string) string {
	return base64.StdEncoding.EncodeToString([]byte("1*" + organizerOID + "*0**" + threadID))
}

// threadIDEscaper escapes a thread id in a join URL as Graph does (lower case).
var threadIDEscaper = strings.NewReplacer(":", "%3a", "@", "%40")

// joinWebURL builds the Teams join link the way Graph does: the thread id
// with ':' and '@' escaped in lower case, message id 0, and the tenant and
// organizer in the context parameter.
func joinWebURL(threadID, tenantID, organizerOID string) string {
	var b strings.Builder
	b.Grow(len(joinURLPrefix) + len(threadID) + 128)
	b.WriteString(joinURLPrefix)
	b.WriteString(threadIDEscaper.Replace(threadID))
	b.WriteString("/0?context=%7b%22Tid%22%3a%22")
	b.WriteString(tenantID)
	b.WriteString("%22%2c%22Oid%22%3a%22")
	b.WriteString(organizerOID)
	b.WriteString("%22%7d")
	return b.String()
}

// randomGUID returns a random (version 4) GUID in lower case.
func randomGUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails (Go 1.24+).
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return formatGUID(&u)
}

// timeOrderedGUID returns a version 7 GUID (RFC 9562) in lower case: the
// Unix time of t in milliseconds in the first 48 bits, then 74 random bits
// (from crypto/rand, so it is as unguessable as a session key). Thread ids,
// and with them meeting ids and join URLs, are built from it so that
// meetings made close together have ids and URLs with a long common prefix:
// the stores' indexes on them then take each new entry into the same few
// pages instead of a random page per meeting, which is most of what a
// create writes (see store/sqlite). The price is that a thread id tells
// when its meeting was created, which creationDateTime tells anyway.
func timeOrderedGUID(t time.Time) string {
	var u [16]byte
	_, _ = rand.Read(u[6:]) // crypto/rand.Read never fails (Go 1.24+).
	ms := uint64(max(t.UnixMilli(), 0))
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	return formatGUID(&u)
}

// formatGUID writes u in the 8-4-4-4-12 form, lower case.
func formatGUID(u *[16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}

// randomDigits returns n uniformly random decimal digits, the first non-zero.
func randomDigits(n int) string {
	return randomString(1, "123456789") + randomString(n-1, "0123456789")
}

// randomString returns n characters drawn uniformly from alphabet (at most
// 256 characters), by rejection sampling so there is no modulo bias.
func randomString(n int, alphabet string) string {
	limit := 256 - 256%len(alphabet) // bytes >= limit would bias the result
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails (Go 1.24+).
		for _, c := range buf {
			if int(c) < limit {
				out = append(out, alphabet[int(c)%len(alphabet)])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out)
}
