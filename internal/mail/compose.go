package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// maxHeaderLine is RFC 5322's limit on a line, without the CRLF.
const maxHeaderLine = 998

// compose renders msg as an RFC 5322 message with CRLF line endings: a
// text/plain part, or a multipart/alternative with text and HTML parts,
// each quoted-printable so the message is 7-bit clean whatever the text.
// Dot-stuffing is left to the SMTP data writer.
func compose(from, to *mail.Address, msg Message, date time.Time, messageID string) ([]byte, error) {
	var b bytes.Buffer
	header := func(name, value string) error {
		if len(name)+2+len(value) > maxHeaderLine {
			return fmt.Errorf("%w: %s header longer than %d characters", ErrInvalidMessage, name, maxHeaderLine)
		}
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteString("\r\n")
		return nil
	}
	// mail.Address.String quotes the display name and encodes it (RFC
	// 2047) when it is not ASCII; QEncoding leaves an ASCII subject as is.
	for _, h := range [][2]string{
		{"From", from.String()},
		{"To", to.String()},
		{"Subject", mime.QEncoding.Encode("utf-8", msg.Subject)},
		{"Date", date.Format(time.RFC1123Z)},
		{"Message-ID", messageID},
		// RFC 3834: ask vacation responders not to answer.
		{"Auto-Submitted", "auto-generated"},
		{"MIME-Version", "1.0"},
	} {
		if err := header(h[0], h[1]); err != nil {
			return nil, err
		}
	}

	if msg.HTML == "" {
		_ = header("Content-Type", "text/plain; charset=utf-8")
		_ = header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQuotedPrintable(&b, msg.Text); err != nil {
			return nil, err
		}
		// SMTP ends the message with a line break; say so rather than
		// leave it to the data writer.
		if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
			b.WriteString("\r\n")
		}
		return b.Bytes(), nil
	}

	mw := multipart.NewWriter(&b) // writes nothing before CreatePart
	_ = header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	// In multipart/alternative the preferred part comes last.
	for _, part := range []struct{ mediaType, body string }{
		{"text/plain", msg.Text},
		{"text/html", msg.HTML},
	} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.mediaType + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, fmt.Errorf("compose %s part: %w", part.mediaType, err)
		}
		if err := writeQuotedPrintable(w, part.body); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("compose message: %w", err)
	}
	return b.Bytes(), nil
}

// writeQuotedPrintable writes s quoted-printable encoded; line breaks (LF or
// CRLF) become CRLF.
func writeQuotedPrintable(w io.Writer, s string) error {
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(s)); err != nil {
		return fmt.Errorf("encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return fmt.Errorf("encode body: %w", err)
	}
	return nil
}

// newMessageID returns a unique Message-ID in domain.
func newMessageID(domain string) string {
	var id [16]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	return "<" + hex.EncodeToString(id[:]) + "@" + domain + ">"
}

// addressDomain returns the part of addr after its last "@".
func addressDomain(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}
