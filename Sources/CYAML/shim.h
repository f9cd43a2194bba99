// libyaml (Debian libyaml-dev): the YAML 1.1 parser and emitter, through its event API.
#include <yaml.h>
