package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TLSMode says how an SMTPSender protects its connection.
type TLSMode string

const (
	// TLSStartTLS connects in plain text and upgrades with STARTTLS before
	// anything else is sent. A server that does not offer STARTTLS is an
	// error (ErrSTARTTLSUnavailable): mails carry password-reset links, so
	// they are not sent in clear any more than the credentials are.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS, port 465).
	TLSImplicit TLSMode = "tls"
	// TLSNone never encrypts. It is only acceptable for a relay on the same
	// host or in the same trusted network namespace (a local Postfix, a
	// development catcher such as Mailpit); the password, if any, is only
	// sent to localhost, 127.0.0.1 or ::1.
	TLSNone TLSMode = "none"
)

// SMTPConfig configures an SMTPSender. Host, From and TLS come from the
// SMTP_* settings; RootCAs is for tests only and has no setting.
type SMTPConfig struct {
	Host string
	// Port defaults to 587 (starttls), 465 (tls) or 25 (none).
	Port int
	// Username, when set, makes the sender authenticate with AUTH PLAIN,
	// which must then be offered by the server.
	Username string
	Password string
	// From is the sender, "Super Agent <no-reply@example.com>"; its address
	// is also the envelope sender.
	From string
	TLS  TLSMode
	// HELOName is the name given in EHLO; default "localhost".
	HELOName string
	// Timeout bounds one Send (dial, TLS, the whole SMTP dialogue) when the
	// context has no earlier deadline; default 30s.
	Timeout time.Duration
	// RootCAs replaces the system roots when verifying the server's
	// certificate. For tests against mailtest; never set from configuration.
	RootCAs *x509.CertPool
}

// SMTPSender sends each message over a new connection to one SMTP server.
// It is safe for concurrent use.
type SMTPSender struct {
	cfg  SMTPConfig
	addr string
	from *mail.Address
}

var _ Sender = (*SMTPSender)(nil)

// NewSMTPSender checks cfg and returns a sender. It refuses an unknown TLS
// mode, an invalid From, and TLSNone with a username when the host is not
// the local machine (the password would cross the network in clear).
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	if cfg.Host == "" {
		return nil, errors.New("smtp sender: no host")
	}
	if cfg.Port == 0 {
		cfg.Port = map[TLSMode]int{TLSStartTLS: 587, TLSImplicit: 465, TLSNone: 25}[cfg.TLS]
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("smtp sender: port %d out of range", cfg.Port)
	}
	switch cfg.TLS {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if cfg.Username != "" && !isLocalhost(cfg.Host) {
			return nil, fmt.Errorf("smtp sender: TLS mode none would send the password for %q to %s in clear; use starttls or tls, or a relay on localhost", cfg.Username, cfg.Host)
		}
	default:
		return nil, fmt.Errorf("smtp sender: TLS mode %q: must be starttls, tls or none", cfg.TLS)
	}
	if err := checkHeaderValue("from", cfg.From); err != nil {
		return nil, fmt.Errorf("smtp sender: %w", err)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp sender: from %q: %w", cfg.From, err)
	}
	if cfg.HELOName == "" {
		cfg.HELOName = "localhost"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &SMTPSender{
		cfg:  cfg,
		addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		from: from,
	}, nil
}

// isLocalhost matches the hosts net/smtp's PlainAuth sends a password to
// without TLS.
func isLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// String describes the sender without its password.
func (s *SMTPSender) String() string {
	user := ""
	if s.cfg.Username != "" {
		user = s.cfg.Username + "@"
	}
	return fmt.Sprintf("smtp://%s%s (%s)", user, s.addr, s.cfg.TLS)
}

// GoString is String, so that %#v does not print the password either.
func (s *SMTPSender) GoString() string { return s.String() }

// Send delivers msg. It fails, without connecting, with ErrInvalidMessage
// when msg is not valid. Once the server has accepted the message Send
// returns nil even if closing the session fails, so a retry does not send
// the mail twice. Errors never contain the password.
func (s *SMTPSender) Send(ctx context.Context, msg Message) error {
	to, err := msg.recipient()
	if err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	data, err := compose(s.from, to, msg, time.Now(), newMessageID(addressDomain(s.from.Address)))
	if err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.deliver(ctx, to.Address, data); err != nil {
		// The connection's deadlines come from ctx only, so a timeout on it
		// means ctx ended, even if ctx's own timer has not fired yet.
		ctxErr := ctx.Err()
		if ctxErr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
			ctxErr = context.DeadlineExceeded
		}
		if ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return fmt.Errorf("send mail via %s: %w", s.addr, err)
	}
	return nil
}

func (s *SMTPSender) deliver(ctx context.Context, to string, data []byte) error {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	// The deadline bounds every read and write; cancelling ctx moves it to
	// the past, which unblocks whatever the dialogue is waiting for.
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			return fmt.Errorf("set deadline: %w", err)
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	tlsConfig := &tls.Config{ServerName: s.cfg.Host, RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	if s.cfg.TLS == TLSImplicit {
		tlsConn := tls.Client(conn, tlsConfig)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		conn = tlsConn // net/smtp sees a *tls.Conn and knows the session is encrypted
	}

	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return fmt.Errorf("read greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HELOName); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if s.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return ErrSTARTTLSUnavailable
		}
		if err := c.StartTLS(tlsConfig); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if s.cfg.Username != "" {
		if err := s.authenticate(c); err != nil {
			return err
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		var reply *textproto.Error
		if errors.As(err, &reply) && reply.Code >= 500 {
			return fmt.Errorf("RCPT TO: %w: %w", ErrRecipientRejected, err)
		}
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil { // reads the server's verdict on the message
		return fmt.Errorf("DATA: %w", err)
	}
	_ = c.Quit() // the message is accepted; a failed QUIT changes nothing
	return nil
}

// authenticate runs AUTH PLAIN, refusing to when the password would travel
// in clear to anything but localhost.
func (s *SMTPSender) authenticate(c *smtp.Client) error {
	if _, encrypted := c.TLSConnectionState(); !encrypted && !(s.cfg.TLS == TLSNone && isLocalhost(s.cfg.Host)) {
		return errors.New("AUTH: refusing to send credentials over an unencrypted connection")
	}
	ok, mechanisms := c.Extension("AUTH")
	if !ok || !slices.Contains(strings.Fields(strings.ToUpper(mechanisms)), "PLAIN") {
		return fmt.Errorf("AUTH: server does not offer AUTH PLAIN (offers %q)", mechanisms)
	}
	// The server's reply, not our request, ends up in the error.
	if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
		return fmt.Errorf("AUTH PLAIN as %q: %w", s.cfg.Username, err)
	}
	return nil
}
