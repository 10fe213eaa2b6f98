package mailtest

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"
)

// exchange is one command and the reply code expected for it.
type exchange struct {
	send string
	code int
	// wantLines, when set, are the texts of the reply's lines.
	wantLines []string
}

// dial connects to srv and reads the greeting.
func dial(t *testing.T, srv *Server) *textproto.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := textproto.NewConn(conn)
	t.Cleanup(func() { _ = c.Close() })
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	return c
}

func run(t *testing.T, c *textproto.Conn, steps []exchange) {
	t.Helper()
	for _, st := range steps {
		if err := c.PrintfLine("%s", st.send); err != nil {
			t.Fatalf("send %q: %v", st.send, err)
		}
		code, msg, err := c.ReadResponse(0)
		if err != nil {
			t.Fatalf("reply to %q: %v", st.send, err)
		}
		if code != st.code {
			t.Fatalf("reply to %q = %d %s, want %d", st.send, code, msg, st.code)
		}
		if st.wantLines != nil && !slices.Equal(strings.Split(msg, "\n"), st.wantLines) {
			t.Fatalf("reply to %q = %q, want %q", st.send, strings.Split(msg, "\n"), st.wantLines)
		}
	}
}

func plain(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

func TestDialogues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		opts  []Option
		steps []exchange
	}{
		{
			name: "capabilities without options",
			steps: []exchange{
				{send: "EHLO client.test", code: 250, wantLines: []string{"mailtest greets client.test", "8BITMIME"}},
				{send: "HELO client.test", code: 250},
				{send: "STARTTLS", code: 502},
				{send: "AUTH PLAIN " + plain("a", "b"), code: 502},
			},
		},
		{
			name: "capabilities with STARTTLS and AUTH",
			opts: []Option{WithSTARTTLS(), WithAuth("agent", "secret")},
			steps: []exchange{
				{send: "EHLO client.test", code: 250, wantLines: []string{"mailtest greets client.test", "8BITMIME", "STARTTLS", "AUTH PLAIN"}},
			},
		},
		{
			name: "commands out of order",
			steps: []exchange{
				{send: "MAIL FROM:<a@example.com>", code: 503},
				{send: "EHLO", code: 501},
				{send: "EHLO client.test", code: 250},
				{send: "RCPT TO:<b@example.com>", code: 503},
				{send: "DATA", code: 503},
				{send: "MAIL FROM:<a@example.com>", code: 250},
				{send: "MAIL FROM:<a@example.com>", code: 503},
				{send: "DATA", code: 503},
				{send: "RCPT TO:b@example.com", code: 501},
				{send: "NOOP", code: 250},
				{send: "VRFY b@example.com", code: 252},
				{send: "FROBNICATE", code: 500},
				{send: "QUIT", code: 221},
			},
		},
		{
			name: "RSET ends the transaction",
			steps: []exchange{
				{send: "EHLO client.test", code: 250},
				{send: "MAIL FROM:<a@example.com>", code: 250},
				{send: "RCPT TO:<b@example.com>", code: 250},
				{send: "RSET", code: 250},
				{send: "DATA", code: 503},
				{send: "MAIL FROM:<> SIZE=100", code: 250},
			},
		},
		{
			name: "AUTH PLAIN required, wrong then right credentials",
			opts: []Option{WithAuth("agent", "secret")},
			steps: []exchange{
				{send: "EHLO client.test", code: 250},
				{send: "MAIL FROM:<a@example.com>", code: 530},
				{send: "AUTH LOGIN", code: 504},
				{send: "AUTH PLAIN " + plain("agent", "wrong"), code: 535},
				{send: "AUTH PLAIN " + plain("other", "secret"), code: 535},
				{send: "AUTH PLAIN not-base64!", code: 501},
				{send: "AUTH PLAIN " + plain("agent", "secret"), code: 235},
				{send: "AUTH PLAIN " + plain("agent", "secret"), code: 503},
				{send: "MAIL FROM:<a@example.com>", code: 250},
			},
		},
		{
			name: "AUTH PLAIN with a continuation, and cancelled",
			opts: []Option{WithAuth("agent", "secret")},
			steps: []exchange{
				{send: "EHLO client.test", code: 250},
				{send: "AUTH PLAIN", code: 334},
				{send: "*", code: 501},
				{send: "AUTH PLAIN", code: 334},
				{send: plain("agent", "secret"), code: 235},
			},
		},
		{
			name: "rejected recipient",
			opts: []Option{WithRejectedRecipients("Gone@Example.com")},
			steps: []exchange{
				{send: "EHLO client.test", code: 250},
				{send: "MAIL FROM:<a@example.com>", code: 250},
				{send: "RCPT TO:<gone@example.com>", code: 550},
				{send: "RCPT TO:<b@example.com>", code: 250},
			},
		},
		{
			name: "scripted reply",
			opts: []Option{WithReply("rcpt", 451, "4.3.0 Try again later")},
			steps: []exchange{
				{send: "EHLO client.test", code: 250},
				{send: "MAIL FROM:<a@example.com>", code: 250},
				{send: "RCPT TO:<b@example.com>", code: 451, wantLines: []string{"4.3.0 Try again later"}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := NewServer(t, tc.opts...)
			run(t, dial(t, srv), tc.steps)
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("%d messages recorded, want none", n)
			}
		})
	}
}

func TestDataIsUnstuffedAndParsed(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	c := dial(t, srv)
	run(t, c, []exchange{
		{send: "EHLO client.test", code: 250},
		{send: "MAIL FROM:<a@example.com>", code: 250},
		{send: "RCPT TO:<b@example.com>", code: 250},
		{send: "RCPT TO:<c@example.com>", code: 250},
		{send: "DATA", code: 354},
	})
	body := strings.Join([]string{
		"From: a@example.com",
		"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= from mailtest",
		"MIME-Version: 1.0",
		`Content-Type: multipart/mixed; boundary="outer"`,
		"",
		"--outer",
		`Content-Type: multipart/alternative; boundary="inner"`,
		"",
		"--inner",
		"Content-Type: text/plain; charset=utf-8",
		"Content-Transfer-Encoding: quoted-printable",
		"",
		"..leading dot, soft=",
		" break, caf=C3=A9",
		"..",
		"--inner",
		"Content-Type: text/html; charset=utf-8",
		"Content-Transfer-Encoding: base64",
		"",
		base64.StdEncoding.EncodeToString([]byte("<p>café</p>"))[:8],
		base64.StdEncoding.EncodeToString([]byte("<p>café</p>"))[8:],
		"--inner--",
		"--outer",
		"Content-Type: application/octet-stream",
		"",
		"attachment",
		"--outer--",
		".",
	}, "\r\n")
	if _, err := io.WriteString(c.W, body+"\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := c.W.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadResponse(250); err != nil {
		t.Fatalf("end of DATA: %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	got, err := srv.WaitForMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.ParseError != nil {
		t.Fatalf("ParseError: %v", got.ParseError)
	}
	if got.From != "a@example.com" || !slices.Equal(got.To, []string{"b@example.com", "c@example.com"}) || got.TLS || got.AuthUser != "" {
		t.Errorf("envelope %q → %q, TLS %v, user %q", got.From, got.To, got.TLS, got.AuthUser)
	}
	if !strings.Contains(string(got.Data), "\r\n.leading dot") || strings.Contains(string(got.Data), "..leading") {
		t.Errorf("Data not unstuffed:\n%s", got.Data)
	}
	if want := "Grüße from mailtest"; got.Subject != want {
		t.Errorf("Subject = %q, want %q", got.Subject, want)
	}
	if want := ".leading dot, soft break, café\n."; got.Text != want {
		t.Errorf("Text = %q, want %q", got.Text, want)
	}
	if want := "<p>café</p>"; got.HTML != want {
		t.Errorf("HTML = %q, want %q", got.HTML, want)
	}
	var types []string
	for _, p := range got.Parts {
		types = append(types, p.MediaType)
	}
	if want := []string{"text/plain", "text/html", "application/octet-stream"}; !slices.Equal(types, want) {
		t.Errorf("parts %q, want %q", types, want)
	}
}

func TestMalformedMessageIsRecordedWithParseError(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	c := dial(t, srv)
	run(t, c, []exchange{
		{send: "EHLO client.test", code: 250},
		{send: "MAIL FROM:<a@example.com>", code: 250},
		{send: "RCPT TO:<b@example.com>", code: 250},
		{send: "DATA", code: 354},
		{send: "Content-Type: multipart/alternative\r\n\r\nno boundary\r\n.", code: 250},
	})
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].ParseError == nil {
		t.Fatalf("messages = %+v, want one with a ParseError", msgs)
	}
}

func TestSTARTTLS(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, WithSTARTTLS(), WithAuth("agent", "secret"))
	raw, err := net.DialTimeout("tcp", srv.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	plainConn := textproto.NewConn(raw)
	if _, _, err := plainConn.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	run(t, plainConn, []exchange{{send: "EHLO client.test", code: 250}, {send: "STARTTLS", code: 220}})
	tlsConn := tls.Client(raw, &tls.Config{ServerName: "127.0.0.1", RootCAs: srv.CertPool(), MinVersion: tls.VersionTLS12})
	if err := tlsConn.Handshake(); err != nil {
		t.Fatalf("handshake with CertPool: %v", err)
	}
	secure := textproto.NewConn(tlsConn)
	run(t, secure, []exchange{
		{send: "MAIL FROM:<a@example.com>", code: 503}, // EHLO again after STARTTLS
		{send: "EHLO client.test", code: 250, wantLines: []string{"mailtest greets client.test", "8BITMIME", "AUTH PLAIN"}},
		{send: "STARTTLS", code: 502},
		{send: "AUTH PLAIN " + plain("agent", "secret"), code: 235},
		{send: "MAIL FROM:<a@example.com>", code: 250},
		{send: "RCPT TO:<b@example.com>", code: 250},
		{send: "DATA", code: 354},
		{send: "Subject: hi\r\n\r\nhello\r\n.", code: 250},
	})
	msgs := srv.Messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].AuthUser != "agent" || msgs[0].Text != "hello\n" {
		t.Fatalf("messages = %+v, want one over TLS from agent", msgs)
	}
}

func TestWithDropAt(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, WithDropAt("mail"))
	c := dial(t, srv)
	run(t, c, []exchange{{send: "EHLO client.test", code: 250}})
	if err := c.PrintfLine("MAIL FROM:<a@example.com>"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadResponse(0); !errors.Is(err, io.EOF) {
		t.Errorf("after MAIL: %v, want the connection closed", err)
	}
	if got := srv.Commands(); !slices.Equal(got, []string{"EHLO", "MAIL"}) {
		t.Errorf("Commands = %q", got)
	}
}

func TestWaitForMessage(t *testing.T) {
	t.Parallel()
	srv := NewServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := srv.WaitForMessage(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitForMessage on an empty server = %v, want DeadlineExceeded", err)
	}

	// A waiter is woken by a message that arrives later; messages come
	// back in order, each once.
	got := make(chan string, 2)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for range 2 {
			m, err := srv.WaitForMessage(ctx)
			if err != nil {
				got <- err.Error()
				continue
			}
			got <- m.Subject
		}
	}()
	c := dial(t, srv)
	for _, subject := range []string{"one", "two"} {
		run(t, c, []exchange{
			{send: "HELO client.test", code: 250},
			{send: "MAIL FROM:<a@example.com>", code: 250},
			{send: "RCPT TO:<b@example.com>", code: 250},
			{send: "DATA", code: 354},
			{send: "Subject: " + subject + "\r\n\r\nbody\r\n.", code: 250},
		})
	}
	for _, want := range []string{"one", "two"} {
		if s := <-got; s != want {
			t.Errorf("WaitForMessage = %q, want %q", s, want)
		}
	}
	if n := len(srv.Messages()); n != 2 {
		t.Errorf("Messages has %d, want 2", n)
	}
}
