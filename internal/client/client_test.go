package client

import (
	"strings"
	"testing"

	"github.com/loteria-nacional/quiniela/internal/lottery"
)

func TestSingleBetFromEnv(t *testing.T) {
	all := map[string]string{
		"NOMBRE": "Santiago Lionel", "APELLIDO": "Lorca", "DOCUMENTO": "30904465",
		"NACIMIENTO": "1999-03-17", "NUMERO": "7574",
	}
	without := func(key string) map[string]string {
		m := map[string]string{}
		for k, v := range all {
			if k != key {
				m[k] = v
			}
		}
		return m
	}
	with := func(key, value string) map[string]string {
		m := without(key)
		m[key] = value
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    *lottery.Bet
		wantErr bool
	}{
		{name: "none set", env: map[string]string{"CLI_ID": "1", "PATH": "/bin"}, want: nil},
		{name: "all set", env: all, want: &lottery.Bet{
			FirstName: "Santiago Lionel", LastName: "Lorca", Document: "30904465",
			Birthdate: "1999-03-17", Number: 7574,
		}},
		{name: "NUMERO 0", env: with("NUMERO", "0"), want: &lottery.Bet{
			FirstName: "Santiago Lionel", LastName: "Lorca", Document: "30904465",
			Birthdate: "1999-03-17", Number: 0,
		}},
		{name: "only NOMBRE", env: map[string]string{"NOMBRE": "Juan"}, wantErr: true},
		{name: "all but NOMBRE", env: without("NOMBRE"), wantErr: true},
		{name: "all but APELLIDO", env: without("APELLIDO"), wantErr: true},
		{name: "all but DOCUMENTO", env: without("DOCUMENTO"), wantErr: true},
		{name: "all but NACIMIENTO", env: without("NACIMIENTO"), wantErr: true},
		{name: "all but NUMERO", env: without("NUMERO"), wantErr: true},
		{name: "NUMERO abc", env: with("NUMERO", "abc"), wantErr: true},
		{name: "NUMERO empty", env: with("NUMERO", ""), wantErr: true},
		{name: "NUMERO 1.5", env: with("NUMERO", "1.5"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := func(key string) (string, bool) {
				v, ok := tt.env[key]
				return v, ok
			}
			got, err := SingleBetFromEnv(env)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("SingleBetFromEnv = %+v, nil; want an error", got)
				}
				if got != nil {
					t.Errorf("SingleBetFromEnv returned a bet %+v along with an error", got)
				}
				if strings.ContainsAny(err.Error(), "\n\r") {
					t.Errorf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("SingleBetFromEnv: %v", err)
			}
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("SingleBetFromEnv = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSingleBetFromEnvNumeroNamed(t *testing.T) {
	env := func(key string) (string, bool) {
		return map[string]string{
			"NOMBRE": "a", "APELLIDO": "b", "DOCUMENTO": "1", "NACIMIENTO": "2000-01-01", "NUMERO": "abc",
		}[key], true
	}
	_, err := SingleBetFromEnv(env)
	if err == nil || !strings.Contains(err.Error(), "NUMERO") {
		t.Errorf("SingleBetFromEnv with NUMERO=abc = %v, want an error naming NUMERO", err)
	}
}
