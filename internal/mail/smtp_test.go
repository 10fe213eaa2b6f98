package mail_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/mail"
	"github.com/superagent-hq/superagent/internal/mail/mailtest"
)

const (
	testUser     = "agent"
	testPassword = "correct horse battery staple"
	testFrom     = "Super Agent <no-reply@superagent.test>"
)

// newSender returns a sender for srv; edit adjusts its configuration.
func newSender(t *testing.T, srv *mailtest.Server, mode mail.TLSMode, edit func(*mail.SMTPConfig)) *mail.SMTPSender {
	t.Helper()
	cfg := mail.SMTPConfig{
		Host:    srv.Host(),
		Port:    srv.Port(),
		From:    testFrom,
		TLS:     mode,
		RootCAs: srv.CertPool(),
		Timeout: 10 * time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := mail.NewSMTPSender(cfg)
	if err != nil {
		t.Fatalf("NewSMTPSender: %v", err)
	}
	return s
}

func withAuth(cfg *mail.SMTPConfig) { cfg.Username, cfg.Password = testUser, testPassword }

func waitForMessage(t *testing.T, srv *mailtest.Server) mailtest.Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m, err := srv.WaitForMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.ParseError != nil {
		t.Fatalf("received message does not parse: %v\n%s", m.ParseError, m.Data)
	}
	return m
}

func TestSMTPSenderDelivers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		mode    mail.TLSMode
		server  []mailtest.Option
		auth    bool
		wantTLS bool
	}{
		{"starttls", mail.TLSStartTLS, []mailtest.Option{mailtest.WithSTARTTLS()}, false, true},
		{"starttls with auth", mail.TLSStartTLS, []mailtest.Option{mailtest.WithSTARTTLS(), mailtest.WithAuth(testUser, testPassword)}, true, true},
		{"implicit tls", mail.TLSImplicit, []mailtest.Option{mailtest.WithImplicitTLS()}, false, true},
		{"implicit tls with auth", mail.TLSImplicit, []mailtest.Option{mailtest.WithImplicitTLS(), mailtest.WithAuth(testUser, testPassword)}, true, true},
		{"none", mail.TLSNone, nil, false, false},
		{"none with auth on localhost", mail.TLSNone, []mailtest.Option{mailtest.WithAuth(testUser, testPassword)}, true, false},
		// none must not upgrade on its own: the operator chose a plain relay.
		{"none ignores offered starttls", mail.TLSNone, []mailtest.Option{mailtest.WithSTARTTLS()}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := mailtest.NewServer(t, tc.server...)
			var edit func(*mail.SMTPConfig)
			if tc.auth {
				edit = withAuth
			}
			sender := newSender(t, srv, tc.mode, edit)
			msg := mail.Message{
				To:      "Bob Example <bob@example.com>",
				Subject: "Your link",
				Text:    "Open https://superagent.test/reset?t=abc\n",
				HTML:    `<p><a href="https://superagent.test/reset?t=abc">Reset</a></p>`,
			}
			if err := sender.Send(t.Context(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := waitForMessage(t, srv)

			if got.From != "no-reply@superagent.test" || !slices.Equal(got.To, []string{"bob@example.com"}) {
				t.Errorf("envelope = %q → %q, want no-reply@superagent.test → [bob@example.com]", got.From, got.To)
			}
			if got.TLS != tc.wantTLS {
				t.Errorf("TLS = %v, want %v", got.TLS, tc.wantTLS)
			}
			wantUser := ""
			if tc.auth {
				wantUser = testUser
			}
			if got.AuthUser != wantUser {
				t.Errorf("authenticated as %q, want %q", got.AuthUser, wantUser)
			}
			if got.Subject != msg.Subject || got.Text != msg.Text || got.HTML != msg.HTML {
				t.Errorf("got subject %q, text %q, html %q; want %q, %q, %q", got.Subject, got.Text, got.HTML, msg.Subject, msg.Text, msg.HTML)
			}
			if h := got.Header.Get("From"); h != `"Super Agent" <no-reply@superagent.test>` {
				t.Errorf("From header = %q", h)
			}
			if h := got.Header.Get("To"); h != `"Bob Example" <bob@example.com>` {
				t.Errorf("To header = %q", h)
			}
		})
	}
}

func TestSMTPSenderWritesAWellFormedMessage(t *testing.T) {
	t.Parallel()
	srv := mailtest.NewServer(t, mailtest.WithSTARTTLS())
	sender := newSender(t, srv, mail.TLSStartTLS, nil)
	for _, tc := range []struct {
		name string
		msg  mail.Message
		// wantParts are the media types of the leaf parts, in order.
		wantParts []string
		// wantText is the text received, when not msg.Text with LF line
		// endings.
		wantText string
	}{
		{
			name: "non-ASCII subject and bodies",
			msg: mail.Message{
				To:      "bob@example.com",
				Subject: "Passwort zurücksetzen – für Zoë ✓",
				Text:    "Grüße, Zoë!\nLink: https://superagent.test/r?a=1&b=2\n",
				HTML:    "<p>Grüße, Zoë!</p>\n",
			},
			wantParts: []string{"text/plain", "text/html"},
		},
		{
			// A line of a single "." would end DATA early without
			// dot-stuffing; "=" and trailing blanks need quoted-printable;
			// the long line needs soft line breaks.
			name: "lines that need stuffing and encoding",
			msg: mail.Message{
				To:      "bob@example.com",
				Subject: "Dots",
				Text:    "first\n.\n..two dots\n.leading dot\nequals = sign \nCRLF line\r\n" + strings.Repeat("long ", 60) + "end\n",
				HTML:    ".\n<p>" + strings.Repeat("x", 300) + "</p>",
			},
			wantParts: []string{"text/plain", "text/html"},
		},
		{
			name:      "text only",
			msg:       mail.Message{To: "bob@example.com", Subject: "Plain", Text: "Just text, no HTML."},
			wantParts: []string{"text/plain"},
			// The body of a single-part message ends with the message.
			wantText: "Just text, no HTML.\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := sender.Send(t.Context(), tc.msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := waitForMessage(t, srv)

			wantText := strings.ReplaceAll(tc.msg.Text, "\r\n", "\n")
			if tc.wantText != "" {
				wantText = tc.wantText
			}
			if got.Subject != tc.msg.Subject || got.Text != wantText || got.HTML != tc.msg.HTML {
				t.Errorf("round trip:\nsubject %q\ntext %q\nhtml %q\nwant\nsubject %q\ntext %q\nhtml %q",
					got.Subject, got.Text, got.HTML, tc.msg.Subject, wantText, tc.msg.HTML)
			}
			var mediaTypes []string
			for _, p := range got.Parts {
				mediaTypes = append(mediaTypes, p.MediaType)
				if cte := p.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
					t.Errorf("%s part: Content-Transfer-Encoding %q, want quoted-printable", p.MediaType, cte)
				}
				if ct := p.Header.Get("Content-Type"); !strings.Contains(ct, "charset=utf-8") {
					t.Errorf("%s part: Content-Type %q has no utf-8 charset", p.MediaType, ct)
				}
			}
			if !slices.Equal(mediaTypes, tc.wantParts) {
				t.Errorf("parts = %q, want %q", mediaTypes, tc.wantParts)
			}
			if len(tc.wantParts) > 1 && !strings.HasPrefix(got.Header.Get("Content-Type"), "multipart/alternative;") {
				t.Errorf("Content-Type = %q, want multipart/alternative", got.Header.Get("Content-Type"))
			}

			raw := string(got.Data)
			for i, line := range strings.Split(raw, "\r\n") {
				if strings.ContainsAny(line, "\r\n") {
					t.Fatalf("line %d has a bare CR or LF: %q", i+1, line)
				}
				if len(line) > 998 {
					t.Fatalf("line %d is %d characters long", i+1, len(line))
				}
				for _, r := range line {
					if r > 126 {
						t.Fatalf("line %d is not 7-bit: %q", i+1, line)
					}
				}
			}
			for _, h := range []string{"Date", "Message-ID", "MIME-Version"} {
				if got.Header.Get(h) == "" {
					t.Errorf("no %s header", h)
				}
			}
			if _, err := got.Header.Date(); err != nil {
				t.Errorf("Date header: %v", err)
			}
			if id := got.Header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@superagent.test>") {
				t.Errorf("Message-ID = %q, want <…@superagent.test>", id)
			}
		})
	}
}

func TestSMTPSenderMessageIDsAreUnique(t *testing.T) {
	t.Parallel()
	srv := mailtest.NewServer(t)
	sender := newSender(t, srv, mail.TLSNone, nil)
	for range 2 {
		if err := sender.Send(t.Context(), mail.Message{To: "bob@example.com", Subject: "Hi", Text: "Hi"}); err != nil {
			t.Fatal(err)
		}
	}
	first, second := waitForMessage(t, srv), waitForMessage(t, srv)
	if a, b := first.Header.Get("Message-ID"), second.Header.Get("Message-ID"); a == b {
		t.Errorf("two messages share Message-ID %q", a)
	}
}

func TestSMTPSenderFails(t *testing.T) {
	t.Parallel()
	okMessage := mail.Message{To: "bob@example.com", Subject: "Hello", Text: "Hello"}
	for _, tc := range []struct {
		name   string
		server []mailtest.Option
		mode   mail.TLSMode
		auth   bool
		// untrusted leaves RootCAs unset, so the test certificate is not trusted.
		untrusted bool
		msg       mail.Message
		wantIs    error
		wantCode  int    // the server reply wrapped in the error, if any
		wantText  string // part of the error text
		// neverSent are commands the server must not have received.
		neverSent []string
	}{
		{
			name:      "starttls required but not offered, with credentials",
			server:    []mailtest.Option{mailtest.WithAuth(testUser, testPassword)},
			mode:      mail.TLSStartTLS,
			auth:      true,
			msg:       okMessage,
			wantIs:    mail.ErrSTARTTLSUnavailable,
			neverSent: []string{"AUTH", "MAIL", "RCPT", "DATA"},
		},
		{
			name:      "starttls required but not offered, without credentials",
			mode:      mail.TLSStartTLS,
			msg:       okMessage,
			wantIs:    mail.ErrSTARTTLSUnavailable,
			neverSent: []string{"MAIL", "RCPT", "DATA"},
		},
		{
			name:      "untrusted certificate",
			server:    []mailtest.Option{mailtest.WithSTARTTLS(), mailtest.WithAuth(testUser, testPassword)},
			mode:      mail.TLSStartTLS,
			auth:      true,
			untrusted: true,
			msg:       okMessage,
			wantText:  "certificate",
			neverSent: []string{"AUTH", "MAIL"},
		},
		{
			name:      "untrusted certificate, implicit tls",
			server:    []mailtest.Option{mailtest.WithImplicitTLS()},
			mode:      mail.TLSImplicit,
			untrusted: true,
			msg:       okMessage,
			wantText:  "certificate",
			neverSent: []string{"EHLO", "MAIL"},
		},
		{
			name:      "wrong password",
			server:    []mailtest.Option{mailtest.WithSTARTTLS(), mailtest.WithAuth(testUser, "another password")},
			mode:      mail.TLSStartTLS,
			auth:      true,
			msg:       okMessage,
			wantCode:  535,
			neverSent: []string{"MAIL", "DATA"},
		},
		{
			name:      "server without auth",
			server:    []mailtest.Option{mailtest.WithSTARTTLS()},
			mode:      mail.TLSStartTLS,
			auth:      true,
			msg:       okMessage,
			wantText:  "does not offer AUTH PLAIN",
			neverSent: []string{"AUTH", "MAIL"},
		},
		{
			name:      "server requires auth",
			server:    []mailtest.Option{mailtest.WithSTARTTLS(), mailtest.WithAuth(testUser, testPassword)},
			mode:      mail.TLSStartTLS,
			msg:       okMessage,
			wantCode:  530,
			neverSent: []string{"DATA"},
		},
		{
			name:      "recipient rejected",
			server:    []mailtest.Option{mailtest.WithSTARTTLS(), mailtest.WithRejectedRecipients("bob@example.com")},
			mode:      mail.TLSStartTLS,
			msg:       okMessage,
			wantIs:    mail.ErrRecipientRejected,
			wantCode:  550,
			neverSent: []string{"DATA"},
		},
		{
			name:     "message refused",
			server:   []mailtest.Option{mailtest.WithReply("DATA", 554, "5.7.1 Rejected as spam")},
			mode:     mail.TLSNone,
			msg:      okMessage,
			wantCode: 554,
		},
		{
			name:     "connection dropped before DATA is answered",
			server:   []mailtest.Option{mailtest.WithDropAt("DATA")},
			mode:     mail.TLSNone,
			msg:      okMessage,
			wantText: "DATA",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := mailtest.NewServer(t, tc.server...)
			sender := newSender(t, srv, tc.mode, func(cfg *mail.SMTPConfig) {
				if tc.auth {
					withAuth(cfg)
				}
				if tc.untrusted {
					cfg.RootCAs = nil
				}
			})
			err := sender.Send(t.Context(), tc.msg)
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %q is not %q", err, tc.wantIs)
			}
			if tc.wantIs != mail.ErrRecipientRejected && errors.Is(err, mail.ErrRecipientRejected) {
				t.Errorf("error %q claims the recipient was rejected", err)
			}
			if tc.wantCode != 0 {
				var reply *textproto.Error
				if !errors.As(err, &reply) || reply.Code != tc.wantCode {
					t.Errorf("error %q does not wrap a %d reply", err, tc.wantCode)
				}
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q does not mention %q", err, tc.wantText)
			}
			assertNoSecret(t, err)
			for _, cmd := range srv.Commands() {
				if slices.Contains(tc.neverSent, cmd) {
					t.Errorf("server received %s; commands: %q", cmd, srv.Commands())
				}
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("server accepted %d messages, want none", n)
			}
		})
	}
}

// assertNoSecret fails when err shows the password, in clear or as an AUTH
// PLAIN response.
func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPassword))
	if s := err.Error(); strings.Contains(s, testPassword) || strings.Contains(s, plain) {
		t.Errorf("error reveals the password: %q", s)
	}
}

func TestSMTPSenderRefusesInvalidMessagesWithoutConnecting(t *testing.T) {
	t.Parallel()
	srv := mailtest.NewServer(t)
	sender := newSender(t, srv, mail.TLSNone, nil)
	for _, tc := range []struct {
		name string
		msg  mail.Message
	}{
		{"CRLF in subject", mail.Message{To: "bob@example.com", Subject: "Hi\r\nBcc: eve@example.com", Text: "x"}},
		{"LF in subject", mail.Message{To: "bob@example.com", Subject: "Hi\nBcc: eve@example.com", Text: "x"}},
		{"CR in subject", mail.Message{To: "bob@example.com", Subject: "Hi\rBcc: eve@example.com", Text: "x"}},
		{"LF in recipient", mail.Message{To: "bob@example.com\nBcc: eve@example.com", Subject: "Hi", Text: "x"}},
		{"CRLF in recipient name", mail.Message{To: "\"Bob\r\nBcc: eve@example.com\" <bob@example.com>", Subject: "Hi", Text: "x"}},
		{"NUL in subject", mail.Message{To: "bob@example.com", Subject: "Hi\x00", Text: "x"}},
		{"not an address", mail.Message{To: "bob", Subject: "Hi", Text: "x"}},
		{"two recipients", mail.Message{To: "bob@example.com, eve@example.com", Subject: "Hi", Text: "x"}},
		{"empty recipient", mail.Message{To: "", Subject: "Hi", Text: "x"}},
		{"no text body", mail.Message{To: "bob@example.com", Subject: "Hi", HTML: "<p>x</p>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := sender.Send(t.Context(), tc.msg)
			if !errors.Is(err, mail.ErrInvalidMessage) {
				t.Errorf("Send error = %v, want ErrInvalidMessage", err)
			}
		})
	}
	// Subtests run in parallel: look once they are done.
	t.Cleanup(func() {
		if cmds := srv.Commands(); len(cmds) != 0 {
			t.Errorf("the server received commands for invalid messages: %q", cmds)
		}
	})
}

func TestSMTPSenderHonoursContext(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// greet makes the stalling server send a greeting and answer EHLO
		// before it stops answering.
		greet   bool
		cancel  bool // cancel the context instead of letting it expire
		wantErr error
	}{
		{"deadline before greeting", false, false, context.DeadlineExceeded},
		{"deadline mid-dialogue", true, false, context.DeadlineExceeded},
		{"cancelled mid-dialogue", true, true, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := stallingServer(t, tc.greet)
			host, port, _ := net.SplitHostPort(addr)
			sender, err := mail.NewSMTPSender(mail.SMTPConfig{
				Host: host, Port: mustAtoi(t, port), From: testFrom, TLS: mail.TLSNone,
				Timeout: time.Hour, // only ctx can end Send in time
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.cancel {
				time.AfterFunc(100*time.Millisecond, cancel)
			} else {
				ctx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
			}
			err = sender.Send(ctx, mail.Message{To: "bob@example.com", Subject: "Hi", Text: "Hi"})
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Send error = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// stallingServer accepts connections and, after optionally greeting and
// answering one EHLO, never says anything again.
func stallingServer(t *testing.T, greet bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if greet {
					_, _ = conn.Write([]byte("220 stalling ESMTP\r\n"))
					buf := make([]byte, 512)
					_, _ = conn.Read(buf)
					_, _ = conn.Write([]byte("250 stalling\r\n"))
				}
				<-done
			}()
		}
	}()
	return ln.Addr().String()
}

func TestNewSMTPSenderChecksConfiguration(t *testing.T) {
	t.Parallel()
	valid := mail.SMTPConfig{Host: "smtp.example.com", Port: 587, From: testFrom, TLS: mail.TLSStartTLS}
	for _, tc := range []struct {
		name    string
		edit    func(*mail.SMTPConfig)
		wantErr string // "" for a valid configuration
	}{
		{"valid", func(*mail.SMTPConfig) {}, ""},
		{"no host", func(c *mail.SMTPConfig) { c.Host = "" }, "no host"},
		{"unknown tls mode", func(c *mail.SMTPConfig) { c.TLS = "ssl" }, "must be starttls, tls or none"},
		{"empty tls mode", func(c *mail.SMTPConfig) { c.TLS = "" }, "must be starttls, tls or none"},
		{"port out of range", func(c *mail.SMTPConfig) { c.Port = 70000 }, "out of range"},
		{"invalid from", func(c *mail.SMTPConfig) { c.From = "Super Agent" }, "from"},
		{"header injection in from", func(c *mail.SMTPConfig) { c.From = "a@example.com\r\nBcc: eve@example.com" }, "control character"},
		{"password in clear to a remote relay", func(c *mail.SMTPConfig) {
			c.TLS, c.Username, c.Password = mail.TLSNone, testUser, testPassword
		}, "in clear"},
		{"none without password to a remote relay", func(c *mail.SMTPConfig) { c.TLS = mail.TLSNone }, ""},
		{"password in clear to localhost", func(c *mail.SMTPConfig) {
			c.Host, c.TLS, c.Username, c.Password = "localhost", mail.TLSNone, testUser, testPassword
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tc.edit(&cfg)
			s, err := mail.NewSMTPSender(cfg)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("NewSMTPSender: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("NewSMTPSender accepted %+v", cfg)
			case err != nil && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
			if err != nil {
				assertNoSecret(t, err)
			}
			if s != nil {
				for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
					if out := fmt.Sprintf(verb, s); strings.Contains(out, testPassword) {
						t.Errorf("%s shows the password: %s", verb, out)
					}
				}
			}
		})
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
