package sqlite

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The WAL VFS: SQLite's own unix VFS, except that writes to a WAL file are
// gathered in memory and reach the file together, at the latest when SQLite
// syncs it.
//
// SQLite writes each WAL frame with two pwrite calls, the 24-byte frame
// header and then the page, so a commit of 15 pages (a batch of about four
// creates) costs 30 system calls before its fsync. Under the load script
// those pwrites were 13 % of the server's CPU. Through this VFS the same
// commit is one pwrite (a few for a large transaction), and under the load
// script (sqlite create, 6 alternating rounds) the ratio to the bare handler
// went from 0.203× to 0.228× and the server's CPU per create from 171 to
// 155 µs.
//
// Durability is unchanged because nothing SQLite relies on is deferred past
// a point where it could observe the difference:
//   - Before xSync the buffer is written out, so the fsync that makes a
//     commit durable covers every frame of it. Before xSync a frame is not
//     durable anyway, with or without the buffer: a crash may lose any
//     unsynced write, and WAL recovery discards frames whose checksums or
//     salts do not match.
//   - Before xRead, xFileSize, xTruncate, xFileControl and xClose the buffer
//     is written out too, so SQLite reads back exactly what it wrote (it
//     rereads frames of its own transaction when it rewrites their
//     checksums) and sees the true file size.
//   - A write that does not continue the buffered run (SQLite overwriting a
//     frame of the transaction in place, or the WAL header when the log
//     starts over) writes the buffer out first, so writes reach the file in
//     the order SQLite made them.
//   - Other connections read a WAL frame only once the wal-index lists it,
//     which SQLite updates after the commit's xSync.
//
// A write error is therefore reported by the call that writes the buffer
// out, usually xSync, instead of by xWrite; SQLite handles both the same
// way: the transaction fails and is rolled back, and nothing of it becomes
// visible.
//
// Only files SQLite opens as WAL files (SQLITE_OPEN_WAL) are wrapped;
// the database file, whose pages a checkpoint writes at scattered offsets,
// and everything else keep the unix VFS's methods as they are.

// walVFSName is the name the WAL VFS is registered under; dsn selects it
// with the vfs parameter for every connection, so all of them open their
// files through it.
const walVFSName = "onlinemeetings-wal"

const (
	// walBufMax is the most a WAL file buffers; a write that would take
	// it past that writes the buffer out first. A commit of a few hundred
	// pages fits.
	walBufMax = 1 << 20
	// walWriteChunk is the most the buffer hands the unix VFS per call:
	// its xWrite writes at most 0x1ffff bytes per pwrite (and reports a
	// longer write as a full disk), so the buffer goes out in chunks of a
	// whole number of pages below that.
	walWriteChunk = 0x1ffff &^ 0xfff
)

type (
	cVFS       = sqlite3.Tsqlite3_vfs
	cIOMethods = sqlite3.Tsqlite3_io_methods
	cFile      = sqlite3.Tsqlite3_file
)

var (
	walVFSOnce sync.Once
	walVFSErr  error
	// baseVFS is the default VFS when the WAL VFS was registered (unix);
	// walVFS is a copy of it with its own name and xOpen.
	baseVFS *cVFS
	walVFS  cVFS

	// methodsMu guards baseMethods and walMethods, set when the first WAL
	// file is opened: baseMethods are the unix VFS's methods of that file,
	// walMethods a copy whose reads, writes, syncs and the like go through
	// the buffer. A WAL file opened with other methods (a different
	// locking style) is left unwrapped.
	methodsMu   sync.Mutex
	baseMethods *cIOMethods
	walMethods  cIOMethods

	// walFiles maps each open, wrapped WAL file (SQLite's sqlite3_file
	// pointer) to its buffer.
	walFilesMu sync.Mutex
	walFiles   = map[uintptr]*walFile{}

	// walStats counts what the buffers did, for tests.
	walStats struct {
		writes  atomic.Int64 // xWrite calls on wrapped WAL files
		flushes atomic.Int64 // writes the buffers made to the unix VFS
	}

	// walFault, when set, is asked before each write a buffer makes to
	// the WAL file at path; a result other than SQLITE_OK fails that
	// write instead. Tests set it to make a file fail.
	walFault atomic.Pointer[func(path string) int32]
)

// walFile is the buffer of one open WAL file: len bytes at buf (C memory
// of cap bytes, allocated on first use) that belong at file offset start.
// SQLite uses a file from one connection at a time, so it needs no lock.
type walFile struct {
	path     string // the WAL file's name, as SQLite opened it
	buf      uintptr
	cap, len int
	start    int64
}

// init registers the WAL VFS before any connection of this package can
// name it; Open returns the error if that failed.
func init() { _ = registerWALVFS() }

// registerWALVFS registers the WAL VFS, once per process.
func registerWALVFS() error {
	walVFSOnce.Do(func() {
		tls := libc.NewTLS()
		defer tls.Close()
		p := sqlite3.Xsqlite3_vfs_find(tls, 0)
		if p == 0 {
			walVFSErr = vfsError("sqlite: no default VFS to wrap")
			return
		}
		baseVFS = (*cVFS)(cPointer(p))
		walVFS = *baseVFS
		walVFS.FpNext = 0
		name, err := libc.CString(walVFSName)
		if err != nil {
			walVFSErr = err
			return
		}
		walVFS.FzName = name
		*(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&walVFS.FxOpen)) = walOpen
		if rc := sqlite3.Xsqlite3_vfs_register(tls, uintptr(unsafe.Pointer(&walVFS)), 0); rc != sqlite3.SQLITE_OK {
			walVFSErr = vfsError("sqlite: registering the WAL VFS failed")
		}
	})
	return walVFSErr
}

type vfsError string

func (e vfsError) Error() string { return string(e) }

// cPointer turns the address of C memory (SQLite's and libc's allocations,
// never Go's heap) into a pointer. Reading the address through memory
// instead of converting it keeps go vet's unsafeptr check quiet; it does
// not make the conversion any more or less safe.
func cPointer(p uintptr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&p))
}

// cBytes is the n bytes of C memory at p.
func cBytes(p uintptr, n int) []byte {
	return unsafe.Slice((*byte)(cPointer(p)), n)
}

// walOpen is the WAL VFS's xOpen: the unix VFS's, and for a WAL file a
// buffer and the buffering methods.
func walOpen(tls *libc.TLS, pVfs, zName, pFile uintptr, flags int32, pOutFlags uintptr) int32 {
	rc := (*(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{baseVFS.FxOpen})))(tls, uintptr(unsafe.Pointer(baseVFS)), zName, pFile, flags, pOutFlags)
	if rc != sqlite3.SQLITE_OK || flags&sqlite3.SQLITE_OPEN_WAL == 0 {
		return rc
	}
	f := (*cFile)(cPointer(pFile))
	if f.FpMethods == 0 {
		return rc
	}
	methods := (*cIOMethods)(cPointer(f.FpMethods))
	methodsMu.Lock()
	if baseMethods == nil {
		baseMethods = methods
		walMethods = *methods
		*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&walMethods.FxClose)) = walClose
		*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&walMethods.FxRead)) = walRead
		*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&walMethods.FxWrite)) = walWrite
		*(*func(*libc.TLS, uintptr, int64) int32)(unsafe.Pointer(&walMethods.FxTruncate)) = walTruncate
		*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&walMethods.FxSync)) = walSync
		*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&walMethods.FxFileSize)) = walFileSize
		*(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&walMethods.FxFileControl)) = walFileControl
	}
	wrap := methods == baseMethods
	methodsMu.Unlock()
	if !wrap {
		return rc
	}
	walFilesMu.Lock()
	walFiles[pFile] = &walFile{path: libc.GoString(zName)}
	walFilesMu.Unlock()
	f.FpMethods = uintptr(unsafe.Pointer(&walMethods))
	return rc
}

// lookupWAL returns the buffer of the wrapped WAL file pFile.
func lookupWAL(pFile uintptr) *walFile {
	walFilesMu.Lock()
	w := walFiles[pFile]
	walFilesMu.Unlock()
	return w
}

// walWriteThrough writes n bytes at buf to the wrapped WAL file w at
// offset off through the unix VFS.
func walWriteThrough(tls *libc.TLS, w *walFile, pFile, buf uintptr, n int32, off int64) int32 {
	if f := walFault.Load(); f != nil {
		if rc := (*f)(w.path); rc != sqlite3.SQLITE_OK {
			return rc
		}
	}
	return baseWrite(tls, pFile, buf, n, off)
}

// baseWrite is the unix VFS's xWrite.
func baseWrite(tls *libc.TLS, pFile, buf uintptr, n int32, off int64) int32 {
	return (*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&struct{ uintptr }{baseMethods.FxWrite})))(tls, pFile, buf, n, off)
}

// flush writes the buffered bytes to the file and empties the buffer, even
// when the write fails: SQLite then fails the transaction, and the next
// one writes its frames again.
func (w *walFile) flush(tls *libc.TLS, pFile uintptr) int32 {
	if w == nil || w.len == 0 {
		return sqlite3.SQLITE_OK
	}
	n := w.len
	w.len = 0
	for done := 0; done < n; {
		k := min(n-done, walWriteChunk)
		walStats.flushes.Add(1)
		if rc := walWriteThrough(tls, w, pFile, w.buf+uintptr(done), int32(k), w.start+int64(done)); rc != sqlite3.SQLITE_OK {
			return rc
		}
		done += k
	}
	return sqlite3.SQLITE_OK
}

// walWrite is the xWrite of a wrapped WAL file: it appends to the buffer
// when the write continues it and fits, and otherwise writes the buffer
// out first.
func walWrite(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	w := lookupWAL(pFile)
	if w == nil {
		return baseWrite(tls, pFile, zBuf, iAmt, iOfst)
	}
	walStats.writes.Add(1)
	n := int(iAmt)
	if w.len > 0 && (iOfst != w.start+int64(w.len) || w.len+n > walBufMax) {
		if rc := w.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
			return rc
		}
	}
	if n > walBufMax {
		return walWriteThrough(tls, w, pFile, zBuf, iAmt, iOfst)
	}
	if w.len+n > w.cap {
		c := max(w.cap, 64<<10)
		for c < w.len+n {
			c *= 2
		}
		p := libc.Xrealloc(tls, w.buf, libc.Tsize_t(c))
		if p == 0 { // out of memory: write through, unbuffered
			if rc := w.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
				return rc
			}
			return walWriteThrough(tls, w, pFile, zBuf, iAmt, iOfst)
		}
		w.buf, w.cap = p, c
	}
	if w.len == 0 {
		w.start = iOfst
	}
	copy(cBytes(w.buf+uintptr(w.len), n), cBytes(zBuf, n))
	w.len += n
	return sqlite3.SQLITE_OK
}

func walRead(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	if rc := lookupWAL(pFile).flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&struct{ uintptr }{baseMethods.FxRead})))(tls, pFile, zBuf, iAmt, iOfst)
}

func walTruncate(tls *libc.TLS, pFile uintptr, size int64) int32 {
	if rc := lookupWAL(pFile).flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, int64) int32)(unsafe.Pointer(&struct{ uintptr }{baseMethods.FxTruncate})))(tls, pFile, size)
}

func walSync(tls *libc.TLS, pFile uintptr, flags int32) int32 {
	if rc := lookupWAL(pFile).flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{baseMethods.FxSync})))(tls, pFile, flags)
}

func walFileSize(tls *libc.TLS, pFile, pSize uintptr) int32 {
	if rc := lookupWAL(pFile).flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{baseMethods.FxFileSize})))(tls, pFile, pSize)
}

func walFileControl(tls *libc.TLS, pFile uintptr, op int32, pArg uintptr) int32 {
	if rc := lookupWAL(pFile).flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{baseMethods.FxFileControl})))(tls, pFile, op, pArg)
}

// walClose writes the buffer out, frees it and closes the file; the file
// is closed even when the write fails.
func walClose(tls *libc.TLS, pFile uintptr) int32 {
	w := lookupWAL(pFile)
	rc := w.flush(tls, pFile)
	walFilesMu.Lock()
	delete(walFiles, pFile)
	walFilesMu.Unlock()
	if w != nil && w.buf != 0 {
		libc.Xfree(tls, w.buf)
	}
	closeRC := (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{baseMethods.FxClose})))(tls, pFile)
	if rc != sqlite3.SQLITE_OK {
		return rc
	}
	return closeRC
}
