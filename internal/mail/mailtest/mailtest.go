// Package mailtest runs a small but real SMTP server (RFC 5321) on
// 127.0.0.1 for tests, and records the mail it receives, parsed, so a test
// can assert on what a user would find in their inbox:
//
//	srv := mailtest.NewServer(t, mailtest.WithSTARTTLS(), mailtest.WithAuth("agent", "secret"))
//	sender, _ := mail.NewSMTPSender(mail.SMTPConfig{
//		Host: srv.Host(), Port: srv.Port(), TLS: mail.TLSStartTLS,
//		Username: "agent", Password: "secret", From: "Super Agent <no-reply@example.com>",
//		RootCAs: srv.CertPool(),
//	})
//	// … run the code under test, which sends through sender …
//	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
//	defer cancel()
//	got, err := srv.WaitForMessage(ctx)
//	link := regexp.MustCompile(`https://\S+`).FindString(got.Text)
//
// The server speaks EHLO/HELO (announcing 8BITMIME, and STARTTLS and AUTH
// PLAIN when configured), STARTTLS with a self-signed certificate that
// CertPool trusts, AUTH PLAIN, MAIL, RCPT, DATA (with dot-unstuffing),
// RSET, NOOP, VRFY and QUIT. When credentials are configured, MAIL is
// refused with 530 until the client has authenticated; AUTH is offered with
// or without TLS, so a test can tell whether a client sends its password in
// clear (see Commands). Options inject failures: rejected recipients, a
// chosen reply to a command, a dropped connection.
package mailtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Option configures a Server.
type Option func(*Server)

// WithSTARTTLS makes the server offer STARTTLS, with a certificate for
// 127.0.0.1, ::1 and localhost that CertPool trusts.
func WithSTARTTLS() Option { return func(s *Server) { s.startTLS = true } }

// WithImplicitTLS makes the server speak TLS from the first byte, as on
// port 465, with the same certificate as WithSTARTTLS.
func WithImplicitTLS() Option { return func(s *Server) { s.implicitTLS = true } }

// WithAuth makes the server offer AUTH PLAIN, accept only username and
// password, answer other credentials with 535, and refuse MAIL with 530
// before a successful AUTH.
func WithAuth(username, password string) Option {
	return func(s *Server) { s.username, s.password = username, password }
}

// WithRejectedRecipients makes the server answer RCPT TO with 550 for these
// addresses (compared without regard to case).
func WithRejectedRecipients(addrs ...string) Option {
	return func(s *Server) {
		for _, a := range addrs {
			s.rejected[strings.ToLower(a)] = true
		}
	}
}

// WithReply makes the server answer every command with this verb ("RCPT",
// "DATA", …) with code and text instead of carrying it out, e.g. 451 for a
// temporary failure.
func WithReply(verb string, code int, text string) Option {
	return func(s *Server) { s.replies[strings.ToUpper(verb)] = reply{code, text} }
}

// WithDropAt makes the server close the connection, without answering,
// when it receives a command with this verb.
func WithDropAt(verb string) Option { return func(s *Server) { s.dropAt = strings.ToUpper(verb) } }

type reply struct {
	code int
	text string
}

// maxMessageBytes is the largest message DATA accepts (552 beyond).
const maxMessageBytes = 10 << 20

// idleTimeout closes a session whose client says nothing for this long.
const idleTimeout = time.Minute

// Server is an SMTP server on a local port that lives until the test ends.
type Server struct {
	startTLS, implicitTLS bool
	username, password    string
	rejected              map[string]bool
	replies               map[string]reply
	dropAt                string

	ln        net.Listener
	tlsConfig *tls.Config
	certPool  *x509.CertPool
	wg        sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	conns    map[net.Conn]struct{}
	messages []Received
	next     int           // the message WaitForMessage returns next
	arrived  chan struct{} // closed, and replaced, when a message arrives
	commands []string
}

// NewServer starts a server on 127.0.0.1 and stops it when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		rejected: map[string]bool{},
		replies:  map[string]reply{},
		conns:    map[net.Conn]struct{}{},
		arrived:  make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	if s.startTLS || s.implicitTLS {
		cert, pool, err := selfSignedCertificate()
		if err != nil {
			t.Fatalf("mailtest: %v", err)
		}
		s.tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.certPool = pool
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s.ln = ln
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.Close)
	return s
}

// Host is the address to connect to, "127.0.0.1".
func (s *Server) Host() string { return s.ln.Addr().(*net.TCPAddr).IP.String() }

// Port is the port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Addr is "host:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// CertPool trusts the server's certificate; it is nil unless the server
// was started WithSTARTTLS or WithImplicitTLS.
func (s *Server) CertPool() *x509.CertPool { return s.certPool }

// Messages returns the messages accepted so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.messages...)
}

// WaitForMessage returns the oldest accepted message it has not returned
// yet, waiting for one until ctx is done.
func (s *Server) WaitForMessage(ctx context.Context) (Received, error) {
	for {
		s.mu.Lock()
		if s.next < len(s.messages) {
			m := s.messages[s.next]
			s.next++
			s.mu.Unlock()
			return m, nil
		}
		arrived := s.arrived
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-ctx.Done():
			return Received{}, fmt.Errorf("mailtest: waiting for a message: %w", ctx.Err())
		}
	}
}

// Commands returns the verbs of the commands received so far in all
// sessions, in order ("EHLO", "STARTTLS", "AUTH", "MAIL", …), without their
// arguments; a test can check, say, that no AUTH was sent.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// Close stops the server, ends open sessions and waits for them.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	_ = s.ln.Close()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return // closed
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = conn.Close()
			return
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
				_ = conn.Close()
			}()
			s.serve(conn)
		}()
	}
}

func (s *Server) record(verb string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commands = append(s.commands, verb)
}

func (s *Server) deliver(m Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// errLineTooLong ends a session whose client sends an overlong line.
var errLineTooLong = errors.New("line too long")

// session is one client connection.
type session struct {
	srv  *Server
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer

	tls      bool
	greeted  bool // EHLO or HELO seen
	authUser string
	inMail   bool // MAIL FROM accepted
	from     string
	to       []string
}

func (s *Server) serve(conn net.Conn) {
	ss := &session{srv: s}
	if s.implicitTLS {
		tlsConn := tls.Server(conn, s.tlsConfig)
		_ = conn.SetDeadline(time.Now().Add(idleTimeout))
		if err := tlsConn.Handshake(); err != nil {
			return
		}
		conn = tlsConn
		ss.tls = true
	}
	ss.use(conn)
	if ss.reply(220, "mailtest ESMTP ready") != nil {
		return
	}
	for {
		line, err := ss.readLine()
		if errors.Is(err, errLineTooLong) {
			_ = ss.reply(500, "5.5.2 Line too long")
			return
		}
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		s.record(verb)
		if verb == s.dropAt {
			return
		}
		if r, ok := s.replies[verb]; ok {
			if ss.reply(r.code, r.text) != nil {
				return
			}
			continue
		}
		if quit, err := ss.handle(verb, strings.TrimSpace(arg)); quit || err != nil {
			return
		}
	}
}

func (ss *session) use(conn net.Conn) {
	ss.conn = conn
	ss.r = bufio.NewReaderSize(conn, 4096)
	ss.w = bufio.NewWriter(conn)
}

// readLine reads one line and returns it without its line ending.
func (ss *session) readLine() (string, error) {
	raw, err := ss.readRawLine()
	return strings.TrimRight(raw, "\r\n"), err
}

// readRawLine reads one line, line ending included.
func (ss *session) readRawLine() (string, error) {
	_ = ss.conn.SetDeadline(time.Now().Add(idleTimeout))
	line, err := ss.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", errLineTooLong
	}
	return string(line), err
}

// reply writes a reply; a multi-line reply when given several texts.
func (ss *session) reply(code int, texts ...string) error {
	for i, text := range texts {
		sep := "-"
		if i == len(texts)-1 {
			sep = " "
		}
		fmt.Fprintf(ss.w, "%d%s%s\r\n", code, sep, text)
	}
	return ss.w.Flush()
}

func (ss *session) resetTransaction() {
	ss.inMail, ss.from, ss.to = false, "", nil
}

// handle carries out one command; quit reports that the session is over.
func (ss *session) handle(verb, arg string) (quit bool, err error) {
	s := ss.srv
	switch verb {
	case "EHLO", "HELO":
		if arg == "" {
			return false, ss.reply(501, "5.5.4 Syntax: "+verb+" hostname")
		}
		ss.greeted = true
		ss.resetTransaction()
		if verb == "HELO" {
			return false, ss.reply(250, "mailtest")
		}
		lines := []string{"mailtest greets " + arg, "8BITMIME"}
		if s.startTLS && !ss.tls {
			lines = append(lines, "STARTTLS")
		}
		if s.username != "" {
			lines = append(lines, "AUTH PLAIN")
		}
		return false, ss.reply(250, lines...)

	case "STARTTLS":
		switch {
		case !s.startTLS || ss.tls:
			return false, ss.reply(502, "5.5.1 STARTTLS not available")
		case arg != "":
			return false, ss.reply(501, "5.5.4 Syntax: STARTTLS")
		}
		if err := ss.reply(220, "2.0.0 Ready to start TLS"); err != nil {
			return true, err
		}
		// Whatever the client sent in clear after STARTTLS is discarded with
		// the old reader (RFC 3207, section 4.2), and the session starts over.
		tlsConn := tls.Server(ss.conn, s.tlsConfig)
		if err := tlsConn.Handshake(); err != nil {
			return true, err
		}
		ss.use(tlsConn)
		ss.tls, ss.greeted, ss.authUser = true, false, ""
		ss.resetTransaction()
		return false, nil

	case "AUTH":
		return false, ss.auth(arg)

	case "MAIL":
		addr, ok := pathArg(arg, "FROM:")
		switch {
		case !ss.greeted:
			return false, ss.reply(503, "5.5.1 Send EHLO first")
		case s.username != "" && ss.authUser == "":
			return false, ss.reply(530, "5.7.0 Authentication required")
		case ss.inMail:
			return false, ss.reply(503, "5.5.1 Nested MAIL command")
		case !ok:
			return false, ss.reply(501, "5.5.4 Syntax: MAIL FROM:<address>")
		}
		ss.inMail, ss.from = true, addr
		return false, ss.reply(250, "2.1.0 OK")

	case "RCPT":
		addr, ok := pathArg(arg, "TO:")
		switch {
		case !ss.inMail:
			return false, ss.reply(503, "5.5.1 Need MAIL before RCPT")
		case !ok || addr == "":
			return false, ss.reply(501, "5.5.4 Syntax: RCPT TO:<address>")
		case s.rejected[strings.ToLower(addr)]:
			return false, ss.reply(550, "5.1.1 <"+addr+">: Recipient address rejected: mailbox unavailable")
		case len(ss.to) >= 100:
			return false, ss.reply(452, "4.5.3 Too many recipients")
		}
		ss.to = append(ss.to, addr)
		return false, ss.reply(250, "2.1.5 OK")

	case "DATA":
		switch {
		case arg != "":
			return false, ss.reply(501, "5.5.4 Syntax: DATA")
		case len(ss.to) == 0:
			return false, ss.reply(503, "5.5.1 Need RCPT before DATA")
		}
		if err := ss.reply(354, "End data with <CR><LF>.<CR><LF>"); err != nil {
			return true, err
		}
		data, tooBig, err := ss.readData()
		if errors.Is(err, errLineTooLong) {
			return true, ss.reply(500, "5.5.2 Line too long")
		}
		if err != nil {
			return true, err
		}
		if tooBig {
			ss.resetTransaction()
			return false, ss.reply(552, "5.3.4 Message too big")
		}
		m := parse(data)
		m.From, m.To, m.TLS, m.AuthUser = ss.from, ss.to, ss.tls, ss.authUser
		ss.resetTransaction()
		s.deliver(m)
		return false, ss.reply(250, "2.0.0 OK queued")

	case "RSET":
		ss.resetTransaction()
		return false, ss.reply(250, "2.0.0 OK")
	case "NOOP":
		return false, ss.reply(250, "2.0.0 OK")
	case "VRFY":
		return false, ss.reply(252, "2.5.2 Cannot VRFY user")
	case "QUIT":
		return true, ss.reply(221, "2.0.0 Bye")
	default:
		return false, ss.reply(500, "5.5.2 Command not recognized")
	}
}

// pathArg parses `FROM:<addr> [params]` (prefix "FROM:") or `TO:<addr>`.
func pathArg(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimSpace(arg[len(prefix):])
	if !strings.HasPrefix(rest, "<") {
		return "", false
	}
	end := strings.IndexByte(rest, '>')
	if end < 0 {
		return "", false
	}
	return rest[1:end], true
}

// readData reads the message after DATA up to the lone ".", undoing the
// dot-stuffing; line endings are kept as the client sent them.
func (ss *session) readData() (data []byte, tooBig bool, err error) {
	for {
		line, err := ss.readRawLine()
		if err != nil {
			return nil, false, err
		}
		if line == ".\r\n" || line == ".\n" {
			return data, tooBig, nil
		}
		line = strings.TrimPrefix(line, ".")
		if len(data)+len(line) > maxMessageBytes {
			tooBig, data = true, nil
		}
		if !tooBig {
			data = append(data, line...)
		}
	}
}

func (ss *session) auth(arg string) error {
	s := ss.srv
	mechanism, initial, _ := strings.Cut(arg, " ")
	switch {
	case s.username == "":
		return ss.reply(502, "5.5.1 AUTH not available")
	case !ss.greeted:
		return ss.reply(503, "5.5.1 Send EHLO first")
	case ss.authUser != "":
		return ss.reply(503, "5.5.1 Already authenticated")
	case ss.inMail:
		return ss.reply(503, "5.5.1 AUTH not allowed during a mail transaction")
	case !strings.EqualFold(mechanism, "PLAIN"):
		return ss.reply(504, "5.5.4 Unrecognized authentication mechanism")
	}
	if initial == "" {
		if err := ss.reply(334, ""); err != nil {
			return err
		}
		line, err := ss.readLine()
		if err != nil {
			return err
		}
		initial = line
	}
	if initial == "*" {
		return ss.reply(501, "5.0.0 Authentication cancelled")
	}
	user, pass, ok := decodePlain(initial)
	if !ok {
		return ss.reply(501, "5.5.2 Cannot decode AUTH PLAIN response")
	}
	if user != s.username || pass != s.password {
		return ss.reply(535, "5.7.8 Authentication credentials invalid")
	}
	ss.authUser = user
	return ss.reply(235, "2.7.0 Authentication successful")
}

// decodePlain decodes an AUTH PLAIN response (RFC 4616): base64 of
// authzid NUL authcid NUL passwd.
func decodePlain(b64 string) (user, pass string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", "", false
	}
	fields := strings.Split(string(raw), "\x00")
	if len(fields) != 3 {
		return "", "", false
	}
	return fields[1], fields[2], true
}
