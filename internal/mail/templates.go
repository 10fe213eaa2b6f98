package mail

import (
	htmltemplate "html/template"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
)

// ProductName is the name the mails sign with.
const ProductName = "Super Agent"

// maxNameRunes bounds a name shown in a mail, so an organization or user
// name cannot carry a paragraph of its own into someone else's inbox.
const maxNameRunes = 80

// PasswordReset is the mail with a link that lets the account's owner set a
// new password. name may be empty.
func PasswordReset(to, name, link string, expires time.Duration) Message {
	return passwordResetMail.render(to, mailData{Name: name, Link: link, Expires: expires})
}

// VerifyEmail is the mail with a link that confirms the recipient owns the
// address. name may be empty.
func VerifyEmail(to, name, link string, expires time.Duration) Message {
	return verifyEmailMail.render(to, mailData{Name: name, Link: link, Expires: expires})
}

// Invitation is the mail inviting the recipient to join orgName, sent on
// behalf of inviterName (which may be empty).
func Invitation(to, inviterName, orgName, link string, expires time.Duration) Message {
	return invitationMail.render(to, mailData{Inviter: inviterName, Org: orgName, Link: link, Expires: expires})
}

type mailData struct {
	Name, Inviter, Org, Link string
	Expires                  time.Duration
}

// view is what the templates see: names cleaned, expiry in words.
type view struct {
	Product, Name, Inviter, Org, Link, Expires string
}

type mailTemplate struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

func (t mailTemplate) render(to string, d mailData) Message {
	v := view{
		Product: ProductName,
		Name:    cleanName(d.Name),
		Inviter: cleanName(d.Inviter),
		Org:     cleanName(d.Org),
		Link:    d.Link,
		Expires: formatExpiry(d.Expires),
	}
	var subject, text, html strings.Builder
	// The templates are fixed and the data are strings: execution can only
	// fail on a bug in this file, which the tests would catch.
	for _, err := range []error{
		t.subject.Execute(&subject, v),
		t.text.Execute(&text, v),
		t.html.Execute(&html, v),
	} {
		if err != nil {
			panic("mail template: " + err.Error())
		}
	}
	return Message{To: to, Subject: subject.String(), Text: text.String(), HTML: html.String()}
}

// cleanName makes a user-chosen name safe to show in a mail: control and
// formatting characters (line breaks, bidirectional overrides, zero-width
// characters) become spaces, runs of spaces one space, and the result is
// clipped to maxNameRunes. HTML escaping is the html template's job.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxNameRunes {
		s = strings.TrimSpace(string(r[:maxNameRunes-1])) + "…"
	}
	return s
}

// formatExpiry says d in words, in the largest unit that divides it: "7
// days", "1 hour", "90 minutes". A d of zero or less gives "".
func formatExpiry(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	switch {
	case d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	default:
		return plural(int64((d+time.Minute-1)/time.Minute), "minute") // round up
	}
}

// The layout is shared by every HTML mail; each mail defines "content"
// and "action" (the button label).
const htmlLayout = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{template "subject" .}}</title>
</head>
<body style="margin:0;padding:24px;background:#f5f5f5;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5;color:#1f2937">
<div style="max-width:560px;margin:0 auto;padding:24px;background:#ffffff;border-radius:8px">
{{template "content" .}}
<p style="margin:24px 0"><a href="{{.Link}}" style="display:inline-block;padding:10px 18px;background:#2563eb;color:#ffffff;text-decoration:none;border-radius:6px;font-weight:600">{{template "action" .}}</a></p>
<p style="font-size:13px;color:#6b7280">If the button does not work, copy this link into your browser:<br><a href="{{.Link}}" style="color:#2563eb;word-break:break-all">{{.Link}}</a></p>
{{template "footer" .}}
<p style="font-size:13px;color:#6b7280">— {{.Product}}</p>
</div>
</body>
</html>
`

func newMailTemplate(subject, text, html string) mailTemplate {
	return mailTemplate{
		subject: texttemplate.Must(texttemplate.New("subject").Parse(subject)),
		text:    texttemplate.Must(texttemplate.New("text").Parse(text)),
		html: htmltemplate.Must(htmltemplate.Must(htmltemplate.New("layout").Parse(htmlLayout)).
			Parse(`{{define "subject"}}` + subject + `{{end}}` + html)),
	}
}

var passwordResetMail = newMailTemplate(
	`Reset your {{.Product}} password`,
	`Hello{{with .Name}} {{.}}{{end}},

Someone asked to reset the password of your {{.Product}} account. To choose a new password, open this link:

{{.Link}}

{{with .Expires}}The link expires in {{.}}. {{end}}If you did not ask for this, ignore this mail: your password stays as it is.

— {{.Product}}
`,
	`{{define "content"}}<p>Hello{{with .Name}} {{.}}{{end}},</p>
<p>Someone asked to reset the password of your {{.Product}} account. To choose a new password, use the button below.</p>{{end}}
{{define "action"}}Reset password{{end}}
{{define "footer"}}<p>{{with .Expires}}The link expires in {{.}}. {{end}}If you did not ask for this, ignore this mail: your password stays as it is.</p>{{end}}`,
)

var verifyEmailMail = newMailTemplate(
	`Confirm your e-mail address for {{.Product}}`,
	`Hello{{with .Name}} {{.}}{{end}},

Please confirm that this is your e-mail address for {{.Product}} by opening this link:

{{.Link}}

{{with .Expires}}The link expires in {{.}}. {{end}}If you did not sign up for {{.Product}}, ignore this mail.

— {{.Product}}
`,
	`{{define "content"}}<p>Hello{{with .Name}} {{.}}{{end}},</p>
<p>Please confirm that this is your e-mail address for {{.Product}}.</p>{{end}}
{{define "action"}}Confirm e-mail address{{end}}
{{define "footer"}}<p>{{with .Expires}}The link expires in {{.}}. {{end}}If you did not sign up for {{.Product}}, ignore this mail.</p>{{end}}`,
)

var invitationMail = newMailTemplate(
	`{{if .Inviter}}{{.Inviter}} invited you{{else}}You are invited{{end}} to join {{.Org}} on {{.Product}}`,
	`Hello,

{{if .Inviter}}{{.Inviter}} invited you{{else}}You are invited{{end}} to join the organization {{.Org}} on {{.Product}}. To accept the invitation, open this link:

{{.Link}}

{{with .Expires}}The invitation expires in {{.}}. {{end}}If you did not expect this invitation, ignore this mail.

— {{.Product}}
`,
	`{{define "content"}}<p>Hello,</p>
<p>{{if .Inviter}}<strong>{{.Inviter}}</strong> invited you{{else}}You are invited{{end}} to join the organization <strong>{{.Org}}</strong> on {{.Product}}.</p>{{end}}
{{define "action"}}Accept invitation{{end}}
{{define "footer"}}<p>{{with .Expires}}The invitation expires in {{.}}. {{end}}If you did not expect this invitation, ignore this mail.</p>{{end}}`,
)
