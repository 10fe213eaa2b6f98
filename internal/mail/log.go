package mail

import (
	"context"
	"fmt"
	"log/slog"
)

// LogSender is the development Sender: instead of sending a message it logs
// the recipient, subject and text body at info level, so a developer can
// follow the link in a password-reset or verification mail from the log.
// Never use it in production: the log would hold working reset links.
type LogSender struct {
	logger *slog.Logger
}

var _ Sender = (*LogSender)(nil)

// NewLogSender returns a LogSender that writes to logger.
func NewLogSender(logger *slog.Logger) *LogSender {
	return &LogSender{logger: logger}
}

// Send validates msg as SMTPSender does, so that development catches what
// production would refuse, then logs it.
func (s *LogSender) Send(ctx context.Context, msg Message) error {
	if _, err := msg.recipient(); err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	s.logger.LogAttrs(ctx, slog.LevelInfo, "mail not sent, logged instead (development)",
		slog.String("to", msg.To),
		slog.String("subject", msg.Subject),
		slog.String("text", msg.Text),
	)
	return nil
}
