module github.com/loteria-nacional/quiniela

go 1.26.0

require (
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
	gopkg.in/ini.v1 v1.68.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
