#!/usr/bin/env bash
# Man pages and bash completion as the build makes them (tools/gendoc.lua):
# a page per tool whose option rows and examples are those of its --help,
# pages man renders without a warning, and a completion that offers the
# commands, tools, aliases, options and choices.
. "$(dirname "$0")/lib.sh"

gendoc() { "$VNS" run "$REPO_DIR/tools/gendoc.lua" "$@" || fail "gendoc $1 failed"; }

tool_names() { "$VNS" list | awk 'NR > 1 && $1 != "broken:" { print $1 }'; }

# The lines of a --help section (Options:, Examples:) up to a blank line.
help_section() { awk -v s="$2" '$0 == s { on = 1; next } on && $0 == "" { exit } on' "$1"; }

# A page's roff without its escapes (\- \e \& \fB \fR).
unroff() { sed -e 's/\\f[BRI]//g' -e 's/\\-/-/g' -e 's/\\&//g' -e 's/\\e/\\/g' "$1"; }

# A page's option rows (.TP, flag, text) printed as --help prints them.
man_options() {
  unroff "$1" | awk '/^\.SH OPTIONS/ { on = 1; next } /^\.SH/ { on = 0 }
    on && /^\.TP$/ { getline flag; getline text
      if (flag !~ /^-[^-]/) flag = "    " flag
      printf "  %-28s %s\n", flag, text }'
}

man_examples() {
  unroff "$1" | awk '/^\.SH EXAMPLES/ { on = 1; next } /^\.SH/ { on = 0 }
    on && !/^\.(nf|fi)$/ { print "  " $0 }'
}

case_man_pages() {
  gendoc man "$CASE_DIR/man"
  [ -s "$CASE_DIR/man/vnetscope.1" ] || fail "no vnetscope.1"
  local n=0 t page
  for t in $(tool_names); do
    page=$CASE_DIR/man/vnetscope-$t.1
    [ -s "$page" ] || fail "no man page for $t"
    "$VNS" "$t" --help >"$CASE_DIR/help" || fail "$t --help failed"
    help_section "$CASE_DIR/help" Options: >"$CASE_DIR/options"
    expect_gt "$t: rows in --help's Options" 4 "$(wc -l <"$CASE_DIR/options")"
    expect_eq "$t: the page's options are --help's" "$(cat "$CASE_DIR/options")" "$(man_options "$page")"
    expect_eq "$t: the page's examples are --help's" "$(help_section "$CASE_DIR/help" Examples:)" "$(man_examples "$page")"
    unroff "$CASE_DIR/man/vnetscope.1" | grep -qx "\.BR vnetscope-$t (1)" || fail "vnetscope.1 does not list $t"
    n=$((n + 1))
  done
  expect_gt "tools with a page" 20 "$n"
  expect_eq "pages: one per tool and vnetscope.1" $((n + 1)) "$(find "$CASE_DIR/man" -name '*.1' | wc -l)"
}

case_man_renders() {
  need_cmd man
  gendoc man "$CASE_DIR/man"
  local page out
  for page in "$CASE_DIR"/man/*.1; do
    out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >"$CASE_DIR/rendered")
    expect_eq "man's warnings on ${page##*/}" "" "$out"
    grep -q '^OPTIONS$\|^SYNOPSIS$' "$CASE_DIR/rendered" || fail "${page##*/} renders without its sections"
  done
  # The check itself: a page with an unknown request does warn.
  printf '.TH X 1\n.SH NAME\nx \\- y\n.XX z\n' >"$CASE_DIR/bad.1"
  out=$(LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$CASE_DIR/bad.1" 2>&1 >/dev/null)
  expect_match "man's warning on an unknown request" 'XX' "$out"
}

# complete WORDS...: what the completion offers for the last word.
complete_words() {
  bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _vnetscope; echo "${COMPREPLY[*]}"' \
    _ "$CASE_DIR/vnetscope.bash" vnetscope "$@"
}

case_completion() {
  gendoc completion "$CASE_DIR/vnetscope.bash"
  bash -n "$CASE_DIR/vnetscope.bash" || fail "the completion is not valid bash"
  expect_eq "commands from c" "check compile cache cpu-monitor cpu_monitor cpu_monitor.sh ct-trace" "$(complete_words c)"
  expect_eq "tools from drop-" "drop-details drop-summary" "$(complete_words drop-)"
  expect_eq "an alias of scripts/aliases.lua" "eth_drop" "$(complete_words eth_d)"
  expect_eq "options of a tool" "--group-by" "$(complete_words drop-summary --grou)"
  expect_eq "options through an alias" "--group-by" "$(complete_words kernel_drop_stack_stats_summary --grou)"
  expect_eq "choices of an option" "location flow stack all" "$(complete_words drop-summary --group-by '')"
  expect_eq "choices of a common option" "json" "$(complete_words drop-summary --format j)"
  expect_eq "a short option's choices" "" "$(complete_words drop-summary -i '')"
  expect_eq "interfaces after --dev" "lo" "$(complete_words drop-summary --dev l)"
  expect_eq "cache words" "list clear" "$(complete_words cache '')"
  expect_eq "compile's own options" "--kernel-headers --kernel-release" "$(complete_words compile drop-summary --kernel-)"
  expect_eq "the tool after compile's options" "--group-by" "$(complete_words compile -o x.pack drop-summary --grou)"
  expect_eq "tools after check" "drop-details drop-summary" "$(complete_words check drop-)"
  # Every option --help shows is offered.
  local t words
  for t in $(tool_names); do
    words=" $(complete_words "$t" -) "
    for opt in $("$VNS" "$t" --help | help_section /dev/stdin Options: | grep -o -- '--[a-z0-9-]*'); do
      case $words in *" $opt "*) ;; *) fail "$t: completion does not offer $opt" ;; esac
    done
  done
}

run_case "docs: a man page per tool with --help's options and examples" case_man_pages
run_case "docs: man renders every page without warnings" case_man_renders
run_case "docs: bash completion of commands, tools, aliases, options, choices" case_completion
finish
