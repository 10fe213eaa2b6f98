package mail_test

import (
	"bytes"
	"context"
	"html"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/superagent-hq/superagent/internal/mail"
	"github.com/superagent-hq/superagent/internal/mail/mailtest"
)

func TestTemplates(t *testing.T) {
	t.Parallel()
	const link = "https://app.superagent.test/reset?token=abc123&u=42"
	for _, tc := range []struct {
		name string
		msg  mail.Message
		// want* must appear in the subject, text and HTML body; wantNot*
		// must not.
		wantSubject, wantText, wantHTML []string
		wantNot                         []string // in none of the three
	}{
		{
			name:        "password reset",
			msg:         mail.PasswordReset("bob@example.com", "Bob <script>alert(1)</script>", link, time.Hour),
			wantSubject: []string{"Reset your Super Agent password"},
			wantText:    []string{link, "Hello Bob <script>alert(1)</script>,", "expires in 1 hour"},
			wantHTML:    []string{"Hello Bob &lt;script&gt;alert(1)&lt;/script&gt;,", "expires in 1 hour", "Reset password"},
		},
		{
			name:        "verify e-mail without a name",
			msg:         mail.VerifyEmail("bob@example.com", "", link, 48*time.Hour),
			wantSubject: []string{"Confirm your e-mail address"},
			wantText:    []string{link, "Hello,\n", "expires in 2 days"},
			wantHTML:    []string{"<p>Hello,</p>", "expires in 2 days", "Confirm e-mail address"},
		},
		{
			name: "invitation with hostile names",
			// A line break in a name would end the Subject header; a
			// right-to-left override would disguise text.
			msg:         mail.Invitation("bob@example.com", `Eve "<b>boss</b>"`, "Acme & Co\r\nBcc: x@example.com\u202egnp.exe", link, 7*24*time.Hour),
			wantSubject: []string{`Eve "<b>boss</b>" invited you to join Acme & Co Bcc: x@example.com gnp.exe on Super Agent`},
			wantText:    []string{link, "expires in 7 days", "Acme & Co Bcc"},
			wantHTML:    []string{"Eve &#34;&lt;b&gt;boss&lt;/b&gt;&#34;", "Acme &amp; Co Bcc", "Accept invitation"},
			wantNot:     []string{"\u202e", "Co\r\n", "Co\n", "<b>boss</b></strong>"},
		},
		{
			name:        "invitation without inviter, odd expiry",
			msg:         mail.Invitation("bob@example.com", "", "Acme", link, 90*time.Minute),
			wantSubject: []string{"You are invited to join Acme on Super Agent"},
			wantText:    []string{"You are invited to join the organization Acme", "expires in 90 minutes"},
			wantHTML:    []string{"expires in 90 minutes"},
		},
		{
			name:        "no expiry",
			msg:         mail.PasswordReset("bob@example.com", "Bob", link, 0),
			wantSubject: []string{"password"},
			wantText:    []string{link},
			wantNot:     []string{"expires"},
		},
		{
			name:        "seconds round up to a minute",
			msg:         mail.VerifyEmail("bob@example.com", "Bob", link, 30*time.Second),
			wantSubject: []string{"Confirm"},
			wantText:    []string{"expires in 1 minute."},
		},
		{
			name:        "long names are clipped",
			msg:         mail.Invitation("bob@example.com", strings.Repeat("A", 500), "Acme", link, time.Hour),
			wantSubject: []string{strings.Repeat("A", 79) + "… invited you"},
			wantNot:     []string{strings.Repeat("A", 80)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := tc.msg
			if m.To != "bob@example.com" {
				t.Errorf("To = %q", m.To)
			}
			check := func(part, body string, want []string) {
				t.Helper()
				for _, w := range want {
					if !strings.Contains(body, w) {
						t.Errorf("%s does not contain %q:\n%s", part, w, body)
					}
				}
				for _, w := range tc.wantNot {
					if strings.Contains(body, w) {
						t.Errorf("%s contains %q:\n%s", part, w, body)
					}
				}
			}
			check("subject", m.Subject, tc.wantSubject)
			check("text", m.Text, tc.wantText)
			check("HTML", m.HTML, tc.wantHTML)
			// The templates use neither tag: any would come from a name.
			for _, tag := range []string{"<script", "<b>"} {
				if strings.Contains(m.HTML, tag) {
					t.Errorf("HTML contains unescaped %s:\n%s", tag, m.HTML)
				}
			}

			// The link is the button's target and the copyable text.
			hrefs := regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(m.HTML, -1)
			if len(hrefs) == 0 {
				t.Fatalf("HTML has no link:\n%s", m.HTML)
			}
			for _, h := range hrefs {
				if got := html.UnescapeString(h[1]); got != link {
					t.Errorf("HTML links to %q, want %q", got, link)
				}
			}
			if !strings.Contains(m.HTML, ">"+html.EscapeString(link)+"</a>") {
				t.Errorf("HTML does not show the link as text:\n%s", m.HTML)
			}
			if !utf8.ValidString(m.Subject + m.Text + m.HTML) {
				t.Error("message is not valid UTF-8")
			}
			// Whatever the names, the message can be sent.
			if err := mail.NewLogSender(slog.New(slog.DiscardHandler)).Send(t.Context(), m); err != nil {
				t.Errorf("the message cannot be sent: %v", err)
			}
		})
	}
}

// TestTemplateLinkArrives is what another package's test does: send a
// templated mail through a real SMTP session and find the link in it.
func TestTemplateLinkArrives(t *testing.T) {
	t.Parallel()
	srv := mailtest.NewServer(t, mailtest.WithSTARTTLS(), mailtest.WithAuth(testUser, testPassword))
	sender := newSender(t, srv, mail.TLSStartTLS, withAuth)
	const link = "https://app.superagent.test/verify?token=" + "x.y-z_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	if err := sender.Send(t.Context(), mail.VerifyEmail("Zoë <zoe@example.com>", "Zoë Ünal", link, 24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := waitForMessage(t, srv)
	linkRE := regexp.MustCompile(`https://app\.superagent\.test/verify\?token=[^\s"<]+`)
	if found := linkRE.FindString(got.Text); found != link {
		t.Errorf("link in text = %q, want %q", found, link)
	}
	if found := linkRE.FindString(html.UnescapeString(got.HTML)); found != link {
		t.Errorf("link in HTML = %q, want %q", found, link)
	}
	if !strings.Contains(got.Text, "Hello Zoë Ünal,") || !strings.Contains(got.Subject, "Confirm your e-mail address") {
		t.Errorf("unexpected mail: subject %q, text %q", got.Subject, got.Text)
	}
}

func TestLogSender(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		msg     mail.Message
		wantErr bool
	}{
		{"reset link is logged", mail.PasswordReset("bob@example.com", "Bob", "https://app.superagent.test/reset?token=abc", time.Hour), false},
		{"header injection is refused", mail.Message{To: "bob@example.com", Subject: "Hi\r\nBcc: eve@example.com", Text: "x"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			sender := mail.NewLogSender(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
			err := sender.Send(context.Background(), tc.msg)
			if tc.wantErr {
				if err == nil || buf.Len() != 0 {
					t.Errorf("Send = %v, logged %q; want an error and nothing logged", err, buf.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			for _, want := range []string{"level=INFO", "to=bob@example.com", "subject=\"Reset your Super Agent password\"", "https://app.superagent.test/reset?token=abc"} {
				if !strings.Contains(out, want) {
					t.Errorf("log does not contain %q:\n%s", want, out)
				}
			}
		})
	}
}
