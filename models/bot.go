package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Bot is a bot account's settings, kept beside its user document (whose
// Bot field is set) under the same id: who owns it, whether members who
// do not own it may add it to their circles, and the slash commands it
// registered (command_register), which replace each other whole.
type Bot struct {
	ID       string `bson:"_id" json:"id"`
	Username string `bson:"username" json:"username"`
	OwnerID  string `bson:"owner_id" json:"owner"`
	// Public lets any member with manage_circle add the bot to their
	// circle; a private bot is added only by its owner.
	Public    bool      `bson:"public" json:"public"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	Commands  []Command `bson:"commands" json:"commands"`
}

// Ref returns the bot as it appears on the wire.
func (b *Bot) Ref() UserRef { return UserRef{ID: b.ID, Username: b.Username, Bot: true} }

// Command returns the bot's command called name, or nil.
func (b *Bot) Command(name string) *Command {
	for i := range b.Commands {
		if b.Commands[i].Name == name {
			return &b.Commands[i]
		}
	}
	return nil
}

// Command is a slash command a bot registered.
type Command struct {
	Name        string          `bson:"name" json:"name"`
	Description string          `bson:"description" json:"description"`
	Options     []CommandOption `bson:"options,omitempty" json:"options,omitempty"`
}

// CommandOption is one typed parameter of a command.
type CommandOption struct {
	Name        string `bson:"name" json:"name"`
	Description string `bson:"description" json:"description"`
	// Type is one of the OptionString … OptionRole constants.
	Type     string `bson:"type" json:"type"`
	Required bool   `bson:"required,omitempty" json:"required,omitempty"`
	// Choices, when set, are the only values the option takes (string,
	// integer and number options only).
	Choices []CommandChoice `bson:"choices,omitempty" json:"choices,omitempty"`
}

// CommandChoice is one allowed value of an option, with a name to show.
// Value is a string, an int64 or a float64, after the option's type.
type CommandChoice struct {
	Name  string `bson:"name" json:"name"`
	Value any    `bson:"value" json:"value"`
}

// Command option types.
const (
	OptionString  = "string"
	OptionInteger = "integer"
	OptionNumber  = "number"
	OptionBoolean = "boolean"
	// OptionUser, OptionStream and OptionRole take an id, which must
	// name a member, a stream or a role of the circle the command is
	// invoked in; the bot gets it resolved.
	OptionUser   = "user"
	OptionStream = "stream"
	OptionRole   = "role"
)

// Command limits.
const (
	// MaxCommands is the most commands one bot may register.
	MaxCommands = 50
	// MaxCommandOptions is the most options one command may have.
	MaxCommandOptions = 10
	// MaxOptionChoices is the most choices one option may have.
	MaxOptionChoices = 25
	// MaxCommandDescription is the longest description of a command or
	// an option, in characters (the shortest is 1).
	MaxCommandDescription = 100
	// MaxChoiceName is the longest choice name and string choice value,
	// in characters.
	MaxChoiceName = 100
	// MaxStringArg is the longest value of a string option, in
	// characters.
	MaxStringArg = 1000
	// MaxSafeInteger bounds integer values, so that every client's JSON
	// numbers hold them exactly.
	MaxSafeInteger = 1<<53 - 1
)

var commandName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// ValidCommandName reports whether s is a valid command or option
// name: 1–32 of a-z, 0-9, _ and -.
func ValidCommandName(s string) bool { return commandName.MatchString(s) }

func validDescription(s string) bool {
	n := utf8.RuneCountInString(s)
	return utf8.ValidString(s) && strings.TrimSpace(s) != "" && n <= MaxCommandDescription && !strings.ContainsAny(s, "\r\n\x00")
}

// ValidateCommands checks a bot's whole command set and normalizes the
// choices' values to the options' types. The error says what is wrong.
func ValidateCommands(cmds []Command) error {
	if len(cmds) > MaxCommands {
		return fmt.Errorf("a bot may register at most %d commands", MaxCommands)
	}
	seen := make(map[string]bool, len(cmds))
	for i := range cmds {
		c := &cmds[i]
		if !ValidCommandName(c.Name) {
			return fmt.Errorf("command name %q must be 1-32 of a-z, 0-9, _ and -", c.Name)
		}
		if seen[c.Name] {
			return fmt.Errorf("command %q is registered twice", c.Name)
		}
		seen[c.Name] = true
		if !validDescription(c.Description) {
			return fmt.Errorf("command %q: description must be 1-%d characters on one line", c.Name, MaxCommandDescription)
		}
		if err := validateOptions(c); err != nil {
			return fmt.Errorf("command %q: %w", c.Name, err)
		}
	}
	return nil
}

func validateOptions(c *Command) error {
	if len(c.Options) > MaxCommandOptions {
		return fmt.Errorf("at most %d options", MaxCommandOptions)
	}
	names := make(map[string]bool, len(c.Options))
	optional := false
	for i := range c.Options {
		o := &c.Options[i]
		if !ValidCommandName(o.Name) {
			return fmt.Errorf("option name %q must be 1-32 of a-z, 0-9, _ and -", o.Name)
		}
		if names[o.Name] {
			return fmt.Errorf("option %q is declared twice", o.Name)
		}
		names[o.Name] = true
		if !validDescription(o.Description) {
			return fmt.Errorf("option %q: description must be 1-%d characters on one line", o.Name, MaxCommandDescription)
		}
		switch o.Type {
		case OptionString, OptionInteger, OptionNumber, OptionBoolean, OptionUser, OptionStream, OptionRole:
		default:
			return fmt.Errorf("option %q: type must be string, integer, number, boolean, user, stream or role", o.Name)
		}
		if o.Required && optional {
			return fmt.Errorf("option %q: required options come before optional ones", o.Name)
		}
		optional = optional || !o.Required
		if err := validateChoices(o); err != nil {
			return fmt.Errorf("option %q: %w", o.Name, err)
		}
	}
	return nil
}

func validateChoices(o *CommandOption) error {
	if len(o.Choices) == 0 {
		return nil
	}
	switch o.Type {
	case OptionString, OptionInteger, OptionNumber:
	default:
		return errors.New("only string, integer and number options take choices")
	}
	if len(o.Choices) > MaxOptionChoices {
		return fmt.Errorf("at most %d choices", MaxOptionChoices)
	}
	for i := range o.Choices {
		ch := &o.Choices[i]
		if n := utf8.RuneCountInString(ch.Name); n == 0 || n > MaxChoiceName || !utf8.ValidString(ch.Name) {
			return fmt.Errorf("choice names must be 1-%d characters", MaxChoiceName)
		}
		v, ok := OptionValue(o.Type, ch.Value)
		if !ok {
			return fmt.Errorf("choice %q: value is not a valid %s", ch.Name, o.Type)
		}
		if s, isString := v.(string); isString && (s == "" || utf8.RuneCountInString(s) > MaxChoiceName) {
			return fmt.Errorf("choice %q: value must be 1-%d characters", ch.Name, MaxChoiceName)
		}
		ch.Value = v
	}
	return nil
}

// OptionValue converts v, as decoded from JSON (with or without
// UseNumber) or BSON, to the Go type of a string, integer or number
// option: string, int64 or float64. It reports false when v is not of
// that type: an integer must be whole and within ±MaxSafeInteger, a
// number finite.
func OptionValue(typ string, v any) (any, bool) {
	switch typ {
	case OptionString:
		s, ok := v.(string)
		return s, ok && utf8.ValidString(s)
	case OptionInteger:
		f, ok := asFloat(v, true)
		if !ok || f != math.Trunc(f) || math.Abs(f) > MaxSafeInteger {
			return nil, false
		}
		return int64(f), true
	case OptionNumber:
		f, ok := asFloat(v, false)
		if !ok || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, false
		}
		return f, true
	}
	return nil, false
}

// CircleBot records that a bot was added to a circle (circle_bot_add)
// and which roles may invoke each of its commands there. Its _id is
// CircleBotID(circle, bot), so it is always found by _id.
type CircleBot struct {
	ID       string    `bson:"_id" json:"-"`
	CircleID string    `bson:"circle_id" json:"circle"`
	BotID    string    `bson:"bot_id" json:"bot"`
	AddedBy  UserRef   `bson:"added_by" json:"added_by"`
	AddedAt  time.Time `bson:"added_at" json:"added_at"`
	// Permissions maps a command's name to the ids of the roles whose
	// members may invoke it in the circle; a command not listed may be
	// invoked by every member holding use_commands.
	Permissions map[string][]string `bson:"permissions,omitempty" json:"permissions,omitempty"`
}

// CircleBotID returns the _id of a bot's record in a circle.
func CircleBotID(circleID, botID string) string { return circleID + ":" + botID }

// InteractionTTL is how long a bot has to answer an interaction.
const InteractionTTL = 15 * time.Minute

// Interaction is one invocation of a bot's command, waiting for the
// bot's answer (interaction_respond). It is stored by _id until the bot
// answers or it expires, so any node can check an answer.
type Interaction struct {
	ID       string  `bson:"_id" json:"id"`
	BotID    string  `bson:"bot_id" json:"-"`
	User     UserRef `bson:"user" json:"user"`
	CircleID string  `bson:"circle_id,omitempty" json:"circle,omitempty"`
	StreamID string  `bson:"stream_id" json:"stream"`
	Command  string  `bson:"command" json:"command"`
	// ExpiresAt is when the bot's time to answer ends.
	ExpiresAt time.Time `bson:"expires_at" json:"expires_at"`
}

// InteractionRef marks a message that answers an interaction: which
// one, the command, and who invoked it.
type InteractionRef struct {
	ID      string  `bson:"id" json:"id"`
	Command string  `bson:"command" json:"command"`
	User    UserRef `bson:"user" json:"user"`
}

// asFloat reads a decoded JSON number (json.Number, float64) or a Go
// integer as a float64. With integer, a json.Number must be written as
// an integer (no fraction, no exponent).
func asFloat(v any, integer bool) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		if integer {
			i, err := n.Int64()
			return float64(i), err == nil
		}
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
}
