package models

import (
	"encoding/json"
	"math"
	"testing"
)

func TestOptionValue(t *testing.T) {
	cases := []struct {
		typ  string
		in   any
		want any
		ok   bool
	}{
		{OptionString, "x", "x", true},
		{OptionString, 1.0, nil, false},
		{OptionString, "\xff", nil, false},
		{OptionInteger, json.Number("42"), int64(42), true},
		{OptionInteger, json.Number("4.2"), nil, false},
		{OptionInteger, json.Number("9007199254740992"), nil, false}, // 2^53
		{OptionInteger, 7.0, int64(7), true},
		{OptionInteger, 7.5, nil, false},
		{OptionInteger, int64(-3), int64(-3), true},
		{OptionInteger, int32(5), int64(5), true},
		{OptionInteger, "7", nil, false},
		{OptionNumber, json.Number("0.5"), 0.5, true},
		{OptionNumber, int64(2), 2.0, true},
		{OptionNumber, math.Inf(1), nil, false},
		{OptionNumber, true, nil, false},
		{OptionBoolean, true, nil, false}, // booleans are not converted here
	}
	for _, tc := range cases {
		got, ok := OptionValue(tc.typ, tc.in)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("OptionValue(%s, %#v) = %#v, %v; want %#v, %v", tc.typ, tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestValidateCommandsNormalizesChoices(t *testing.T) {
	cmds := []Command{{Name: "roll", Description: "Rolls", Options: []CommandOption{
		{Name: "sides", Description: "Sides", Type: OptionInteger, Required: true,
			Choices: []CommandChoice{{Name: "d6", Value: json.Number("6")}, {Name: "d20", Value: 20.0}}},
	}}}
	if err := ValidateCommands(cmds); err != nil {
		t.Fatal(err)
	}
	for _, ch := range cmds[0].Options[0].Choices {
		if _, ok := ch.Value.(int64); !ok {
			t.Fatalf("choice %q value %#v is not an int64", ch.Name, ch.Value)
		}
	}
	if got := (&Bot{Commands: cmds}).Command("roll"); got == nil || got.Name != "roll" {
		t.Fatalf("Command(roll) = %v", got)
	}
	if (&Bot{Commands: cmds}).Command("nope") != nil {
		t.Fatal("Command(nope) found something")
	}
}
