package sqlite

import (
	"encoding/binary"
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
//     commit durable covers every frame of it (dsnParams sets
//     synchronous=FULL, so every commit syncs). Before xSync a frame is not
//     durable anyway, with or without the buffer: a crash may lose any
//     unsynced write, and WAL recovery discards frames whose checksums or
//     salts do not match.
//   - The buffer is written out, too, right after the page of a commit
//     frame (the one whose header carries the database size): SQLite
//     publishes the commit in the wal-index after that frame (and its
//     sync, with FULL), so other connections never read a frame that is
//     still buffered, whatever the synchronous setting.
//   - Before xRead, xFileSize, xTruncate and xFileControl the buffer is
//     written out too, so SQLite reads back exactly what it wrote (it
//     rereads frames of its own transaction when it rewrites their
//     checksums) and sees the true file size.
//   - A write that does not continue the buffered run (SQLite overwriting a
//     frame of the transaction in place, or the WAL header when the log
//     starts over) writes the buffer out first, so writes reach the file in
//     the order SQLite made them.
//   - A connection writes to the WAL only while it holds the WAL's write
//     lock, and every commit ends with xSync, so what is still buffered
//     when the connection gives up that lock is frames of a transaction
//     that rolled back (it spilled pages to the WAL before failing). They
//     are dropped there (the main database file's xShmLock is wrapped for
//     this): written out later, they would land on frames that another
//     connection, or another process, has committed since. For the same
//     reason xClose drops the buffer instead of writing it.
//   - The buffer is used only while that holds: each WAL file knows the
//     Wal object of SQLite's that opened it, and writes through, unbuffered,
//     unless the Wal holds the write lock (always, when SQLite writes), is
//     not in exclusive locking mode (which takes no shm locks, so no unlock
//     would drop a rolled-back transaction's frames) and does not pad
//     commits to a sector boundary (with power-safe overwrite off, which
//     writes the end of a commit's last frame after the commit's sync).
//   - A failed write-out sticks: every later write, read, sync, size or
//     file-control call on that WAL file fails with SQLITE_IOERR_WRITE
//     until the connection gives up the write lock. SQLite then fails the
//     transaction (its commit cannot write or sync) and rolls it back,
//     instead of going on without frames it believes are in the file. It
//     is never reported as SQLITE_FULL, which SQLite treats as a failure of
//     the statement alone.
//
// Only WAL files buffer; of the main database files only xShmLock is
// wrapped, and every other file keeps the unix VFS's methods. Each file
// opened through this VFS carries a walState after the unix VFS's own
// fields, which ties a WAL file to its Wal and a main file to its
// connection's WAL file, so the methods need no lock or map. Finding the
// Wal relies on how sqlite3WalOpen allocates it (the WAL file right after
// it); vfsOpen checks that layout on every open and leaves a WAL file it
// does not recognise unbuffered.

// walVFSName is the name the WAL VFS is registered under; dsnParams
// selects it for every connection, so all of them open their files through
// it.
const walVFSName = "onlinemeetings-wal"

const (
	// walBufMax is the most a WAL file buffers; a write that would take
	// it past that writes the buffer out first. A commit of a few hundred
	// pages fits.
	walBufMax = 1 << 20
	// walWriteChunk is the most the buffer hands the unix VFS per call:
	// its xWrite writes at most 0x1ffff bytes per pwrite (the length is
	// masked, and a longer write comes back short, as a full disk), so the
	// buffer goes out in chunks of a whole number of pages below that.
	walWriteChunk = 0x1ffff &^ 0xfff
	// walWriteLock is the offset of the WAL write lock among the shm
	// locks (WAL_WRITE_LOCK in wal.c).
	walWriteLock = 0
	// walFrameHeader is the size of a WAL frame's header, which SQLite
	// writes on its own before the page; bytes 4 to 8 hold, big-endian,
	// the database size after a commit, 0 in every other frame.
	walFrameHeader = 24
)

type (
	cVFS       = sqlite3.Tsqlite3_vfs
	cIOMethods = sqlite3.Tsqlite3_io_methods
	cFile      = sqlite3.Tsqlite3_file
)

// walState is what the WAL VFS keeps in each file SQLite opens through it,
// after the unix VFS's fields: plain words, since the memory is SQLite's.
// SQLite uses a file from one connection at a time, so it needs no lock.
type walState struct {
	// kind is fileWAL or fileMain for the files the VFS wraps.
	kind int32
	// err is a WAL file's sticky error: a failed write-out.
	err int32
	// commitPage says the last write was the header of a commit frame,
	// so the next one, its page, ends the commit's frames.
	commitPage int32
	// link is, for a WAL file, the address of SQLite's Wal object that
	// opened it (its write lock and modes say whether to buffer); for a
	// main database file, the address of its connection's open WAL file,
	// or 0.
	link uintptr
	// buf holds len buffered bytes of a WAL file (of cap allocated, C
	// memory) that belong at file offset start.
	buf   uintptr
	cap   int64
	len   int64
	start int64
}

// Kinds of files in walState.kind.
const (
	fileOther int32 = iota // not wrapped: the unix VFS's methods
	fileWAL                // a WAL file, which buffers
	fileMain               // a main database file, whose xShmLock is wrapped
)

// sqliteWal is SQLite's Wal object (wal.c), as modernc.org/sqlite
// transpiled it. sqlite3WalOpen allocates it with the WAL file right after
// it, and sets pDbFd, pWalFd and zWalName before it opens the file; vfsOpen
// checks all three before it trusts the layout.
type sqliteWal = sqlite3.TWal

var (
	walVFSOnce sync.Once
	walVFSErr  error
	// baseVFS is the default VFS when the WAL VFS was registered (unix);
	// walVFS is a copy of it with its own name, xOpen and file size.
	baseVFS *cVFS
	walVFS  cVFS
	// stateOff is the offset of a file's walState.
	stateOff uintptr

	// methodsMu guards the methods below, set when the first file of each
	// kind is opened: base* are the unix VFS's methods of that file, the
	// others copies of them with the WAL VFS's functions in place. A file
	// opened with other methods (another locking style) is left alone.
	methodsMu       sync.Mutex
	baseWALMethods  *cIOMethods
	walMethods      cIOMethods
	baseMainMethods *cIOMethods
	mainMethods     cIOMethods

	// walNames maps each wrapped WAL file to its name, for walFault and
	// tests.
	walNamesMu sync.Mutex
	walNames   = map[uintptr]string{}

	// walStats counts what the buffers did, for tests.
	walStats struct {
		writes  atomic.Int64 // xWrite calls on wrapped WAL files
		flushes atomic.Int64 // writes the buffers made to the unix VFS
		dropped atomic.Int64 // buffers emptied unwritten
	}

	// walFault, when set, is asked before each write a buffer makes to
	// the WAL file named name; a result other than SQLITE_OK fails that
	// write instead. Tests set it to make a file fail.
	walFault atomic.Pointer[func(name string) int32]
)

// init registers the WAL VFS before any connection of this package can
// name it; Open returns the error if that failed. Registering initialises
// SQLite, so in a process that imports this package SQLite's global
// configuration (sqlite.RegisterPageCache, say) can no longer be changed.
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
		stateOff = (uintptr(baseVFS.FszOsFile) + 7) &^ 7
		walVFS.FszOsFile = int32(stateOff + unsafe.Sizeof(walState{}))
		name, err := libc.CString(walVFSName)
		if err != nil {
			walVFSErr = err
			return
		}
		walVFS.FzName = name
		*(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&walVFS.FxOpen)) = vfsOpen
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
func cBytes(p uintptr, n int64) []byte {
	return unsafe.Slice((*byte)(cPointer(p)), n)
}

// state is the walState of the file pFile.
func state(pFile uintptr) *walState {
	return (*walState)(cPointer(pFile + stateOff))
}

// vfsOpen is the WAL VFS's xOpen: the unix VFS's, then for a main database
// file the wrapped xShmLock and for a WAL file the buffering methods.
func vfsOpen(tls *libc.TLS, pVfs, zName, pFile uintptr, flags int32, pOutFlags uintptr) int32 {
	*state(pFile) = walState{}
	rc := (*(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{baseVFS.FxOpen})))(tls, uintptr(unsafe.Pointer(baseVFS)), zName, pFile, flags, pOutFlags)
	f := (*cFile)(cPointer(pFile))
	if rc != sqlite3.SQLITE_OK || f.FpMethods == 0 || zName == 0 {
		return rc
	}
	methods := (*cIOMethods)(cPointer(f.FpMethods))
	switch {
	case flags&sqlite3.SQLITE_OPEN_MAIN_DB != 0:
		if adoptMethods(methods, &baseMainMethods, &mainMethods, setMainMethods) {
			state(pFile).kind = fileMain
			f.FpMethods = uintptr(unsafe.Pointer(&mainMethods))
		}
	case flags&sqlite3.SQLITE_OPEN_WAL != 0:
		wal := pFile - unsafe.Sizeof(sqliteWal{})
		w := (*sqliteWal)(cPointer(wal))
		// Without its Wal object the buffer could not tell whether the
		// connection holds the write lock, and without the main file's
		// wrapped xShmLock nothing would drop what a rolled-back
		// transaction left in it: such a file is not buffered.
		if w.FpWalFd != pFile || w.FzWalName != zName || w.FpDbFd == 0 || state(w.FpDbFd).kind != fileMain {
			return rc
		}
		if !adoptMethods(methods, &baseWALMethods, &walMethods, setWALMethods) {
			return rc
		}
		st := state(pFile)
		st.kind, st.link = fileWAL, wal
		state(w.FpDbFd).link = pFile
		walNamesMu.Lock()
		walNames[pFile] = libc.GoString(zName)
		walNamesMu.Unlock()
		f.FpMethods = uintptr(unsafe.Pointer(&walMethods))
	}
	return rc
}

// adoptMethods makes *dst, on first use, a copy of methods with set's
// functions in place, and reports whether a file with methods may use it.
func adoptMethods(methods *cIOMethods, base **cIOMethods, dst *cIOMethods, set func(*cIOMethods)) bool {
	methodsMu.Lock()
	defer methodsMu.Unlock()
	if *base == nil {
		*base = methods
		*dst = *methods
		set(dst)
	}
	return methods == *base
}

func setWALMethods(m *cIOMethods) {
	*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&m.FxClose)) = walClose
	*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&m.FxRead)) = walRead
	*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&m.FxWrite)) = walWrite
	*(*func(*libc.TLS, uintptr, int64) int32)(unsafe.Pointer(&m.FxTruncate)) = walTruncate
	*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&m.FxSync)) = walSync
	*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&m.FxFileSize)) = walFileSize
	*(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&m.FxFileControl)) = walFileControl
}

func setMainMethods(m *cIOMethods) {
	*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&m.FxClose)) = mainClose
	*(*func(*libc.TLS, uintptr, int32, int32, int32) int32)(unsafe.Pointer(&m.FxShmLock)) = mainShmLock
}

// mayBuffer reports whether a write to the WAL file w may wait in the
// buffer: only while SQLite holds the WAL's write lock through the shm
// locks, which mainShmLock watches (not in exclusive locking mode, which
// takes no shm locks), and when it does not pad commits to a sector
// boundary, which writes part of a frame after the commit's sync.
func (w *walState) mayBuffer() bool {
	wal := (*sqliteWal)(cPointer(w.link))
	return wal.FwriteLock != 0 && wal.FexclusiveMode == 0 && wal.FpadToSectorBoundary == 0
}

// flush writes the buffered bytes to the file and empties the buffer. A
// failure sticks (see the top of this file).
func (w *walState) flush(tls *libc.TLS, pFile uintptr) int32 {
	if w.err != sqlite3.SQLITE_OK {
		return w.err
	}
	n := w.len
	w.len = 0
	if rc := writeThrough(tls, pFile, w.buf, n, w.start); rc != sqlite3.SQLITE_OK {
		w.err = sqlite3.SQLITE_IOERR_WRITE
		return w.err
	}
	return sqlite3.SQLITE_OK
}

// writeThrough writes the n bytes at buf to the WAL file pFile at offset
// off through the unix VFS, in chunks it accepts.
func writeThrough(tls *libc.TLS, pFile, buf uintptr, n, off int64) int32 {
	for done := int64(0); done < n; {
		k := min(n-done, walWriteChunk)
		walStats.flushes.Add(1)
		if f := walFault.Load(); f != nil {
			walNamesMu.Lock()
			name := walNames[pFile]
			walNamesMu.Unlock()
			if rc := (*f)(name); rc != sqlite3.SQLITE_OK {
				return rc
			}
		}
		rc := (*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&struct{ uintptr }{baseWALMethods.FxWrite})))(tls, pFile, buf+uintptr(done), int32(k), off+done)
		if rc != sqlite3.SQLITE_OK {
			return rc
		}
		done += k
	}
	return sqlite3.SQLITE_OK
}

// walWrite is the xWrite of a WAL file: it appends to the buffer when the
// write may be buffered, continues the buffered run and fits, and otherwise
// writes the buffer out first.
func walWrite(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	walStats.writes.Add(1)
	w := state(pFile)
	if w.err != sqlite3.SQLITE_OK {
		return w.err
	}
	n := int64(iAmt)
	buffer := w.mayBuffer() && n <= walBufMax
	if w.len > 0 && (!buffer || iOfst != w.start+w.len || w.len+n > walBufMax) {
		if rc := w.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
			return rc
		}
	}
	if buffer && w.len+n > w.cap {
		c := max(w.cap, 64<<10)
		for c < w.len+n {
			c *= 2
		}
		if p := libc.Xrealloc(tls, w.buf, libc.Tsize_t(c)); p != 0 {
			w.buf, w.cap = p, c
		} else { // out of memory: write through, unbuffered
			if rc := w.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
				return rc
			}
			buffer = false
		}
	}
	commitPage := w.commitPage != 0
	w.commitPage = 0
	if n == walFrameHeader && binary.BigEndian.Uint32(cBytes(zBuf+4, 4)) != 0 {
		w.commitPage = 1
	}
	if !buffer {
		return writeThrough(tls, pFile, zBuf, n, iOfst)
	}
	if w.len == 0 {
		w.start = iOfst
	}
	copy(cBytes(w.buf+uintptr(w.len), n), cBytes(zBuf, n))
	w.len += n
	if commitPage {
		// The commit's last frame: with synchronous=FULL its xSync comes
		// next and would write the buffer out anyway; with NORMAL there is
		// none, and SQLite publishes the commit right after this.
		return w.flush(tls, pFile)
	}
	return sqlite3.SQLITE_OK
}

func walRead(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	if rc := state(pFile).flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&struct{ uintptr }{baseWALMethods.FxRead})))(tls, pFile, zBuf, iAmt, iOfst)
}

func walTruncate(tls *libc.TLS, pFile uintptr, size int64) int32 {
	if rc := state(pFile).flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, int64) int32)(unsafe.Pointer(&struct{ uintptr }{baseWALMethods.FxTruncate})))(tls, pFile, size)
}

func walSync(tls *libc.TLS, pFile uintptr, flags int32) int32 {
	if rc := state(pFile).flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{baseWALMethods.FxSync})))(tls, pFile, flags)
}

func walFileSize(tls *libc.TLS, pFile, pSize uintptr) int32 {
	if rc := state(pFile).flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{baseWALMethods.FxFileSize})))(tls, pFile, pSize)
}

func walFileControl(tls *libc.TLS, pFile uintptr, op int32, pArg uintptr) int32 {
	if rc := state(pFile).flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{baseWALMethods.FxFileControl})))(tls, pFile, op, pArg)
}

// drop empties the buffer without writing it and clears a sticky error.
func (w *walState) drop() {
	if w.len > 0 {
		walStats.dropped.Add(1)
	}
	w.len, w.err = 0, sqlite3.SQLITE_OK
}

// walClose frees the buffer and closes the file. Whatever is still
// buffered is dropped, not written: it can only be frames of a transaction
// that never committed (with synchronous=FULL a commit leaves the buffer
// empty), and the connection may no longer hold the write lock.
func walClose(tls *libc.TLS, pFile uintptr) int32 {
	walNamesMu.Lock()
	delete(walNames, pFile)
	walNamesMu.Unlock()
	w := state(pFile)
	w.drop()
	// SQLite closes a connection's WAL file before its main file.
	if main := state((*sqliteWal)(cPointer(w.link)).FpDbFd); main.kind == fileMain && main.link == pFile {
		main.link = 0
	}
	if w.buf != 0 {
		libc.Xfree(tls, w.buf)
	}
	*w = walState{}
	return (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{baseWALMethods.FxClose})))(tls, pFile)
}

// mainShmLock is the xShmLock of a main database file. When the connection
// gives up the WAL's write lock, it first drops the buffer of its WAL file
// and clears a sticky error: whatever is still buffered belongs to a
// transaction that rolled back.
func mainShmLock(tls *libc.TLS, pFile uintptr, ofst, n, flags int32) int32 {
	if flags == sqlite3.SQLITE_SHM_UNLOCK|sqlite3.SQLITE_SHM_EXCLUSIVE && ofst <= walWriteLock && walWriteLock < ofst+n {
		if wal := state(pFile).link; wal != 0 {
			state(wal).drop()
		}
	}
	return (*(*func(*libc.TLS, uintptr, int32, int32, int32) int32)(unsafe.Pointer(&struct{ uintptr }{baseMainMethods.FxShmLock})))(tls, pFile, ofst, n, flags)
}

// mainClose closes a main database file.
func mainClose(tls *libc.TLS, pFile uintptr) int32 {
	*state(pFile) = walState{}
	return (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{baseMainMethods.FxClose})))(tls, pFile)
}
