// Package mail sends Super Agent's own e-mail: password-reset links,
// e-mail verification links and invitations. Mail is sent from queue jobs,
// never on the request path, through a Sender: SMTPSender in production,
// LogSender in development. PasswordReset, VerifyEmail and Invitation build
// the messages.
//
// Package mailtest runs a real SMTP server for tests that need to read the
// mail the code under test sends.
package mail

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
)

// Message is one e-mail to one recipient.
type Message struct {
	// To is the recipient: "bob@example.com" or "Bob <bob@example.com>".
	To      string
	Subject string
	// Text is the plain-text body; it is required.
	Text string
	// HTML is the HTML body; when set, the mail is multipart/alternative
	// with Text as the fallback.
	HTML string
}

// Sender delivers messages. Send returns nil only once the message has been
// handed over (accepted by the SMTP server, or logged).
type Sender interface {
	Send(ctx context.Context, msg Message) error
}

var (
	// ErrInvalidMessage is wrapped by Send's error when the message itself
	// cannot be sent (bad recipient address, CR or LF in a header, no text
	// body). Retrying the same message is pointless.
	ErrInvalidMessage = errors.New("invalid message")
	// ErrRecipientRejected is wrapped by Send's error when the SMTP server
	// refuses the recipient permanently (a 5xx reply to RCPT TO). Retrying
	// the same message is pointless; the server's reply is wrapped too
	// (errors.As with *textproto.Error).
	ErrRecipientRejected = errors.New("recipient rejected")
	// ErrSTARTTLSUnavailable is wrapped by Send's error when the sender
	// requires STARTTLS and the server does not offer it. Nothing, in
	// particular no credentials, was sent.
	ErrSTARTTLSUnavailable = errors.New("server does not offer STARTTLS")
)

// recipient validates msg and returns its parsed recipient.
func (msg Message) recipient() (*mail.Address, error) {
	if err := checkHeaderValue("recipient", msg.To); err != nil {
		return nil, err
	}
	if err := checkHeaderValue("subject", msg.Subject); err != nil {
		return nil, err
	}
	to, err := mail.ParseAddress(msg.To)
	if err != nil {
		return nil, fmt.Errorf("%w: recipient %q: %v", ErrInvalidMessage, msg.To, err)
	}
	if msg.Text == "" {
		return nil, fmt.Errorf("%w: no text body", ErrInvalidMessage)
	}
	return to, nil
}

// checkHeaderValue refuses values that could end a header line and start
// another (header injection), and other control characters that have no
// place in a header.
func checkHeaderValue(what, v string) error {
	if i := strings.IndexFunc(v, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }); i >= 0 {
		return fmt.Errorf("%w: %s contains control character %q", ErrInvalidMessage, what, v[i])
	}
	return nil
}
