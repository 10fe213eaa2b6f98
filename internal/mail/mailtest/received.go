package mailtest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
)

// Received is one message the server accepted.
type Received struct {
	// From is the envelope sender (MAIL FROM) and To the envelope
	// recipients (RCPT TO).
	From string
	To   []string
	// Data is the message as received after DATA, dot-unstuffed, line
	// endings as the client sent them.
	Data []byte
	// TLS reports whether the session was encrypted when the message was
	// sent; AuthUser is the user it authenticated as, or "".
	TLS      bool
	AuthUser string

	// The parsed view. ParseError is set when Data is not a well-formed
	// message; the fields below then hold what could be read.
	ParseError error
	Header     mail.Header
	// Subject is decoded from RFC 2047.
	Subject string
	// Text and HTML are the first text/plain and text/html bodies,
	// transfer-decoded, with line endings turned into "\n".
	Text string
	HTML string
	// Parts are the leaf parts in order (one for a single-part message).
	Parts []Part
}

// Part is one leaf MIME part of a received message.
type Part struct {
	Header textproto.MIMEHeader
	// MediaType is the Content-Type without parameters, "text/plain".
	MediaType string
	// Body is transfer-decoded (quoted-printable, base64), line endings as
	// sent.
	Body []byte
}

// maxDepth bounds the nesting of multipart parts parse follows.
const maxDepth = 10

// parse fills the parsed view of a message.
func parse(data []byte) Received {
	r := Received{Data: data}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		r.ParseError = fmt.Errorf("read header: %w", err)
		return r
	}
	r.Header = msg.Header
	if r.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		r.ParseError = fmt.Errorf("decode subject: %w", err)
		r.Subject = msg.Header.Get("Subject")
	}
	parts, err := parseEntity(textproto.MIMEHeader(msg.Header), msg.Body, 0)
	r.Parts = parts
	if err != nil && r.ParseError == nil {
		r.ParseError = err
	}
	for _, p := range parts {
		body := strings.ReplaceAll(string(p.Body), "\r\n", "\n")
		switch {
		case p.MediaType == "text/plain" && r.Text == "":
			r.Text = body
		case p.MediaType == "text/html" && r.HTML == "":
			r.HTML = body
		}
	}
	return r
}

// parseEntity returns the leaf parts of one MIME entity.
func parseEntity(h textproto.MIMEHeader, body io.Reader, depth int) ([]Part, error) {
	mediaType, params := "text/plain", map[string]string{}
	if ct := h.Get("Content-Type"); ct != "" {
		var err error
		if mediaType, params, err = mime.ParseMediaType(ct); err != nil {
			return nil, fmt.Errorf("content type %q: %w", ct, err)
		}
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		if depth >= maxDepth {
			return nil, fmt.Errorf("multipart nested deeper than %d", maxDepth)
		}
		if params["boundary"] == "" {
			return nil, fmt.Errorf("%s without boundary", mediaType)
		}
		mr := multipart.NewReader(body, params["boundary"])
		var parts []Part
		for {
			// NextRawPart: the transfer encoding is decoded here, so that
			// tests see the header as sent.
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return parts, nil
			}
			if err != nil {
				return parts, fmt.Errorf("read %s: %w", mediaType, err)
			}
			sub, err := parseEntity(p.Header, p, depth+1)
			parts = append(parts, sub...)
			if err != nil {
				return parts, err
			}
		}
	}
	var decoded io.Reader
	switch enc := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))); enc {
	case "", "7bit", "8bit", "binary":
		decoded = body
	case "quoted-printable":
		decoded = quotedprintable.NewReader(body)
	case "base64":
		decoded = base64.NewDecoder(base64.StdEncoding, body) // skips CR and LF
	default:
		return nil, fmt.Errorf("unknown transfer encoding %q", enc)
	}
	b, err := io.ReadAll(decoded)
	if err != nil {
		return nil, fmt.Errorf("decode %s body: %w", mediaType, err)
	}
	return []Part{{Header: h, MediaType: mediaType, Body: b}}, nil
}
