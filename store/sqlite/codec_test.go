package sqlite

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/onlinemeetings/onlinemeetings/store"
	"github.com/onlinemeetings/onlinemeetings/store/storetest"
)

// TestResourceDict pins the dictionary of codecS2Dict1, its bytes and its
// first repeat offset: rows encoded with it can only be decoded with the
// very same, so a change would make every stored meeting unreadable. A
// better dictionary is a new file and a new codec.
func TestResourceDict(t *testing.T) {
	const (
		file = "d44986f91b2563e1702c17261789d2f808d8bd25f3d8f4ac1e781b7e005b5dec"
		dict = "9c1369620caf853f4d1ba918abebbb62107f11e6cb1b7dfad769d72564a28bde" // repeat offset and bytes
	)
	if got := sha256.Sum256(resourceDictV1); hex.EncodeToString(got[:]) != file {
		t.Fatalf("resource_dict_v1.jsonl has SHA-256 %x, want %s: released dictionaries never change", got, file)
	}
	if s2Dict1 == nil {
		t.Fatal("s2.MakeDictManual refused the dictionary")
	}
	if got := sha256.Sum256(s2Dict1.Bytes()); hex.EncodeToString(got[:]) != dict {
		t.Fatalf("the serialised dictionary has SHA-256 %x, want %s: its repeat offset changed", got, dict)
	}
}

// TestResourceGoldenBlocks decodes blocks encoded when codecS2Dict1 was
// introduced: whatever version of the S2 package go.mod names must still
// read rows written by this one. The meeting's block starts with a copy
// from the dictionary's repeat offset, as a stored meeting's does.
func TestResourceGoldenBlocks(t *testing.T) {
	meeting, err := os.ReadFile("testdata/golden_meeting.json")
	if err != nil {
		t.Fatal(err)
	}
	meetingBlock, err := os.ReadFile("testdata/golden_meeting.codec1.hex")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, block string
		want        []byte
	}{
		{"short object", "8701007b1d5918676f6c64656e227abf0771e1150034007861b211000c2f30227d9dd0a224",
			[]byte(`{"subject":"golden","allowMeetingChat":"enabled","joinWebUrl":"https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0"}`)},
		{"meeting", strings.TrimSpace(string(meetingBlock)), meeting}, // the file, newline and all
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := hex.DecodeString(tt.block)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeResource(b, sql.NullInt64{Int64: codecS2Dict1, Valid: true})
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("decode = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// typicalResource returns a meeting as the handlers render it, with fresh
// identifiers, so it shares only its shape with the dictionary.
func typicalResource(t *testing.T) []byte {
	t.Helper()
	lines := bytes.Split(resourceDictV1, []byte("\n"))
	r := string(lines[1]) // the meeting of the seed request
	r = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`).
		ReplaceAllStringFunc(r, func(string) string { return uuid.NewString() })
	r = regexp.MustCompile(`MSo[A-Za-z0-9]+`).ReplaceAllString(r, "MSo"+strings.Repeat("Q", 150))
	r = regexp.MustCompile(`meeting_[A-Za-z0-9]{48}`).ReplaceAllString(r, "meeting_"+strings.ReplaceAll(uuid.NewString(), "-", "")+"Zm9vYmFyYmF6cXV4")
	r = strings.ReplaceAll(r, "User Token Meeting", "Quarterly planning with the design team")
	return []byte(r)
}

func TestEncodeResource(t *testing.T) {
	random := make([]byte, 3000)
	rand.Read(random)
	tests := []struct {
		name       string
		in         []byte
		compressed bool
		maxRatio   float64 // of the stored size to the input's, when compressed
	}{
		{"empty", []byte{}, false, 0},
		{"nil", nil, false, 0},
		{"tiny object", []byte(`{}`), false, 0},
		{"typical meeting", typicalResource(t), true, 0.3},
		{"random bytes", random, false, 0},
		{"repetitive", bytes.Repeat([]byte(`"attendees":[],`), 500), true, 0.05},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := bytes.Clone(tt.in)
			res := encodeResource(in)
			if !bytes.Equal(in, tt.in) {
				t.Fatal("encodeResource changed its input")
			}
			if res.blob == nil {
				t.Fatal("blob is nil: it would bind as NULL")
			}
			if got := res.codec != nil; got != tt.compressed {
				t.Fatalf("compressed = %v (%d → %d bytes), want %v", got, len(tt.in), len(res.blob), tt.compressed)
			}
			codec := sql.NullInt64{}
			if res.codec != nil {
				codec = sql.NullInt64{Int64: res.codec.(int64), Valid: true}
				if ratio := float64(len(res.blob)) / float64(len(tt.in)); ratio > tt.maxRatio {
					t.Errorf("%d → %d bytes (%.2f), want at most %.2f", len(tt.in), len(res.blob), ratio, tt.maxRatio)
				}
			} else if len(tt.in) > 0 && &res.blob[0] == &in[0] {
				t.Error("stored as is but sharing the caller's memory")
			}
			got, err := decodeResource(res.blob, codec)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.in) || got == nil {
				t.Fatalf("round trip = %q, want %q", got, tt.in)
			}
		})
	}
}

func TestDecodeResourceErrors(t *testing.T) {
	s2 := sql.NullInt64{Int64: codecS2Dict1, Valid: true}
	meeting, err := os.ReadFile("testdata/golden_meeting.json")
	if err != nil {
		t.Fatal(err)
	}
	valid := encodeResource(meeting).blob // the same bytes every run
	badSum := bytes.Clone(valid)
	badSum[len(badSum)-1] ^= 1
	badBlock := bytes.Clone(valid)
	badBlock[len(badBlock)/2] ^= 0x20
	huge := binary.AppendUvarint(nil, maxResourceBytes+1)
	huge = append(huge, 0, 0, 0, 0, 0, 0, 0, 0)
	tests := []struct {
		name  string
		blob  []byte
		codec sql.NullInt64
		is    error  // when set, the error must match it
		says  string // else the error must say this
	}{
		{"unknown codec", []byte("{}"), sql.NullInt64{Int64: 99, Valid: true}, errUnknownCodec, ""},
		{"corrupt block", []byte{0x20, 0xff, 0xff, 0xff, 0, 0, 0, 0}, s2, nil, "stored resource"},
		{"empty", []byte{}, s2, nil, "too short"},
		{"claims too much", huge, s2, nil, "claims"},
		{"checksum off", badSum, s2, nil, "checksum"},
		{"block altered", badBlock, s2, nil, "stored resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeResource(tt.blob, tt.codec)
			if err == nil {
				t.Fatalf("decode = %q, want an error", got)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %v, want %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %q, want one that says %q", err, tt.says)
			}
		})
	}
}

// TestResourceStorage checks rows through the store: Create, CreateOrGet
// and Update store a meeting compressed and read it back whole, and a
// resource compression would not shrink as it is; a row written before
// migration 0005 (NULL codec, resource as is) reads as it is; a row of an
// unknown codec is an error for the read, not a panic or garbage.
func TestResourceStorage(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	stored := func(id string) (size int, codec sql.NullInt64) {
		t.Helper()
		if err := s.rdb.QueryRowContext(ctx, `SELECT length(resource), resource_codec FROM meetings WHERE id = ?`, id).Scan(&size, &codec); err != nil {
			t.Fatal(err)
		}
		return size, codec
	}
	wantCompressed := func(op string, m *store.Meeting) {
		t.Helper()
		if size, codec := stored(m.ID); !codec.Valid || codec.Int64 != codecS2Dict1 || size >= len(m.Resource)/3 {
			t.Errorf("%s stored %d bytes with codec %v for a %d-byte resource, want codec %d and under a third", op, size, codec, len(m.Resource), codecS2Dict1)
		}
		if got, err := s.Get(ctx, owner, m.ID); err != nil || !bytes.Equal(got.Resource, m.Resource) {
			t.Errorf("Get after %s = %v, %v; want the resource back", op, got, err)
		}
	}

	created := storetest.NewMeeting(owner, 1)
	created.Resource = typicalResource(t)
	if err := s.Create(ctx, created, store.Quota{}); err != nil {
		t.Fatal(err)
	}
	wantCompressed("Create", created)

	keyed := storetest.NewMeeting(owner, 2)
	keyed.ExternalID, keyed.Resource = "ext-1", typicalResource(t)
	if _, _, err := s.CreateOrGet(ctx, keyed, store.Quota{}); err != nil {
		t.Fatal(err)
	}
	wantCompressed("CreateOrGet", keyed)

	updated := typicalResource(t)
	if _, err := s.Update(ctx, owner, created.ID, func(m *store.Meeting) error {
		m.Resource = bytes.Clone(updated)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	created.Resource = updated
	wantCompressed("Update", created)

	random := make([]byte, 1000)
	rand.Read(random)
	if _, err := s.Update(ctx, owner, created.ID, func(m *store.Meeting) error {
		m.Resource = bytes.Clone(random)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if size, codec := stored(created.ID); codec.Valid || size != len(random) {
		t.Errorf("Update to random bytes stored %d bytes with codec %v, want them as they are (NULL)", size, codec)
	}
	if got, err := s.Get(ctx, owner, created.ID); err != nil || !bytes.Equal(got.Resource, random) {
		t.Errorf("Get = %v, %v; want the random bytes back", got, err)
	}

	old := storetest.NewMeeting(owner, 3)
	unknown := storetest.NewMeeting(owner, 4)
	for _, r := range []struct {
		m     *store.Meeting
		codec any
	}{{old, nil}, {unknown, int64(99)}} {
		if _, err := s.wdb.ExecContext(ctx, writeSQL.insert, insertArgs(r.m, storedResource{blob: r.m.Resource, codec: r.codec})...); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Get(ctx, owner, old.ID); err != nil || !bytes.Equal(got.Resource, old.Resource) {
		t.Errorf("Get of a row stored as is = %v, %v; want its resource", got, err)
	}
	if got, err := s.Get(ctx, owner, unknown.ID); !errors.Is(err, errUnknownCodec) {
		t.Errorf("Get of a row with codec 99 = %v, %v; want errUnknownCodec", got, err)
	}
}
