#!/usr/bin/env bash
# Prepare this machine for a class on JupyterHub (run as root; `make hub` runs it, then starts the hub).
#
#   deploy/jupyterhub/setup.sh [--demo-accounts N] [--chapters "01_fundamentals ..."]
#
# Idempotent: run it again after `git pull` to update the course package and the chapters. It never
# deletes a student's work, the gradebook or the exchange. What it sets up (README: "Teaching a class
# on JupyterHub"):
#   /srv/ml-recsys/venv      the hub and the course environment (the `course` package, not the repo)
#   /srv/ml-recsys/course    the course directory, owned by the instructor, mode 700 (solutions, gradebook)
#   /srv/ml-recsys/hub       JupyterHub's database, cookie secret and hub.env, root only
#   /srv/ml-recsys/roster.csv  id,first_name,last_name,email: who may log in (gradebook import too)
#   /usr/local/share/nbgrader/exchange   nbgrader's shared exchange, mode 777 as nbgrader documents
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
HOME_DIR="${COURSE_HUB_HOME:-/srv/ml-recsys}"
VENV="$HOME_DIR/venv"
COURSE="$HOME_DIR/course"
STATE="$HOME_DIR/hub"
EXCHANGE=/usr/local/share/nbgrader/exchange
INSTRUCTOR="${COURSE_INSTRUCTOR:-instructor}"
# Every account runs the environment's Python: it must not live under /root (pyenv, conda in a home).
PYTHON="${HUB_PYTHON:-/usr/bin/python3}"
DEMO=0
CHAPTERS=""
while [ $# -gt 0 ]; do
    case "$1" in
        --demo-accounts) DEMO="$2"; shift 2 ;;
        --chapters) CHAPTERS="$2"; shift 2 ;;
        *) echo "unknown option $1"; exit 2 ;;
    esac
done

[ "$(id -u)" = 0 ] || { echo "setup.sh sets up accounts and /srv: run it as root (make hub does)"; exit 1; }
say() { echo "hub setup: $*"; }

# --- system packages: bubblewrap (contained grading), the proxy (npm), PAM ----------------------------
need_apt=()
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import venv, ensurepip" 2>/dev/null || need_apt+=(python3-venv)
command -v bwrap >/dev/null || need_apt+=(bubblewrap)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
    say "installing ${need_apt[*]}"
    apt-get install -y -q "${need_apt[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null; apt-get install -y -q "${need_apt[@]}" >/dev/null; }
fi
if ! command -v configurable-http-proxy >/dev/null; then
    say "installing configurable-http-proxy (npm)"
    npm install -g --silent configurable-http-proxy >/dev/null
fi

# --- the environment: JupyterHub + the course package (installed, so students never see the repo) ----
mkdir -p "$HOME_DIR" "$STATE"
chmod 755 "$HOME_DIR"; chmod 700 "$STATE"
[ -x "$PYTHON" ] || apt-get install -y -q python3 python3-venv >/dev/null
if [ -x "$VENV/bin/python" ] && ! runuser -u nobody -- "$VENV/bin/python" -c "" 2>/dev/null; then
    say "$VENV/bin/python cannot be run by other accounts: recreating it with $PYTHON"
    rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
stamp="$(cd "$REPO" && cat pyproject.toml | sha1sum | cut -c1-12)"
if [ "$(cat "$VENV/.deps" 2>/dev/null)" != "$stamp" ]; then
    say "installing the course's dependencies and JupyterHub into $VENV (minutes the first time)"
    "$VENV/bin/pip" install --quiet "$REPO[hub]"
    echo "$stamp" > "$VENV/.deps"
fi
# The package itself on every run (quick): the notebooks' `course` helpers and the grading pipeline.
"$VENV/bin/pip" install --quiet --no-deps --force-reinstall "$REPO" >/dev/null
chmod -R a+rX "$VENV"

# Formgrader and Create Assignment off for everybody; setup turns them on for the instructor only.
"$VENV/bin/jupyter" server extension disable --sys-prefix nbgrader.server_extensions.formgrader >/dev/null 2>&1
"$VENV/bin/jupyter" labextension disable --level=sys_prefix @jupyter/nbgrader:formgrader >/dev/null 2>&1
"$VENV/bin/jupyter" labextension disable --level=sys_prefix @jupyter/nbgrader:create-assignment >/dev/null 2>&1
mkdir -p "$VENV/etc/jupyter"
cat > "$VENV/etc/jupyter/nbgrader_config.py" <<EOF
# Every user's nbgrader (students and instructor): the course and its shared exchange.
c = get_config()
c.CourseDirectory.course_id = "ml-recsys"
c.Exchange.root = "$EXCHANGE"
EOF

# --- the exchange, as nbgrader documents it (students write inbound/ but cannot list it) -------------
mkdir -p "$EXCHANGE"
chmod 777 "$EXCHANGE"

# --- accounts ----------------------------------------------------------------------------------------
add_user() {  # add_user NAME [PASSWORD]
    if ! id "$1" >/dev/null 2>&1; then
        useradd --create-home --shell /bin/bash "$1"
        say "created the Unix account $1"
    fi
    chmod 700 "/home/$1"  # nobody reads another's home
    if [ -n "${2:-}" ]; then echo "$1:$2" | chpasswd; fi
}
ROSTER="$HOME_DIR/roster.csv"
if [ "$DEMO" -gt 0 ]; then
    PASSWORDS="$STATE/demo-passwords.txt"
    touch "$PASSWORDS"; chmod 600 "$PASSWORDS"
    pw() { grep "^$1 " "$PASSWORDS" | cut -d' ' -f2 || true; }
    new_pw() { local p; p="$(pw "$1")"; [ -n "$p" ] || { p="$(head -c 12 /dev/urandom | base64 | tr -dc A-Za-z0-9)"; echo "$1 $p" >> "$PASSWORDS"; }; echo "$p"; }
    add_user "$INSTRUCTOR" "$(new_pw "$INSTRUCTOR")"
    echo "id,first_name,last_name,email" > "$ROSTER"
    for i in $(seq 1 "$DEMO"); do
        add_user "student$i" "$(new_pw "student$i")"
        echo "student$i,Student,$i," >> "$ROSTER"
    done
    say "demo accounts: $INSTRUCTOR and student1..student$DEMO; passwords in $PASSWORDS (root only)"
else
    id "$INSTRUCTOR" >/dev/null 2>&1 || { echo "No Unix account $INSTRUCTOR: create it, or run with --demo-accounts N"; exit 1; }
    [ -f "$ROSTER" ] || { echo "No roster $ROSTER (id,first_name,last_name,email): README, 'Teaching a class'"; exit 1; }
    tail -n +2 "$ROSTER" | cut -d, -f1 | while read -r student; do [ -n "$student" ] && add_user "$student"; done
fi
chmod 644 "$ROSTER"

# --- the course directory: the instructor's alone --------------------------------------------------
as_instructor() {  # from a directory the instructor can enter (jupyter fails in an unreadable cwd)
    (cd "/home/$INSTRUCTOR" && runuser -u "$INSTRUCTOR" -- env HOME="/home/$INSTRUCTOR" PATH="$VENV/bin:$PATH" \
        OMP_NUM_THREADS=1 "$@")
}
mkdir -p "$COURSE/source" "$COURSE/release"
cp "$REPO/nbgrader_config.py" "$COURSE/nbgrader_config.py"
for chapter in ${CHAPTERS:-$(cd "$REPO/source" && ls -d */ | tr -d /)}; do
    rm -rf "$COURSE/source/$chapter" "$COURSE/release/$chapter"
    cp -r "$REPO/source/$chapter" "$COURSE/source/$chapter"
    cp -r "$REPO/release/$chapter" "$COURSE/release/$chapter"
done
chown -R "$INSTRUCTOR:$INSTRUCTOR" "$COURSE"
chmod 700 "$COURSE"
mkdir -p "/home/$INSTRUCTOR/.jupyter"
cat > "/home/$INSTRUCTOR/.jupyter/nbgrader_config.py" <<EOF
# The instructor's Formgrader works on the course directory (~/course links to $COURSE); collect refuses submissions handed in
# under another student's name (course/grading/exchange.py).
c = get_config()
c.CourseDirectory.root = "/home/$INSTRUCTOR/course"
c.ExchangeFactory.collect = "course.grading.exchange.OwnerCheckedCollect"
EOF
chown -R "$INSTRUCTOR:$INSTRUCTOR" "/home/$INSTRUCTOR/.jupyter"
# Formgrader refuses a course directory outside the server's root (the home): reach it through a link.
ln -sfn "$COURSE" "/home/$INSTRUCTOR/course"
chown -h "$INSTRUCTOR:$INSTRUCTOR" "/home/$INSTRUCTOR/course"
# (written directly: `jupyter server extension enable --user` validates by importing, which can time out)
echo '{"ServerApp": {"jpserver_extensions": {"nbgrader.server_extensions.formgrader": true}}}' \
    > "/home/$INSTRUCTOR/.jupyter/jupyter_server_config.json"
chown "$INSTRUCTOR:$INSTRUCTOR" "/home/$INSTRUCTOR/.jupyter/jupyter_server_config.json"
as_instructor "$VENV/bin/jupyter" labextension enable --level=user @jupyter/nbgrader:formgrader >/dev/null 2>&1
as_instructor "$VENV/bin/jupyter" labextension enable --level=user @jupyter/nbgrader:create-assignment >/dev/null 2>&1
# The roster in the gradebook, and every chapter recorded (not released: the instructor releases).
as_instructor bash -c "cd '$COURSE' && nbgrader db student import '$ROSTER'" >/dev/null 2>&1 || true
as_instructor bash -c "cd '$COURSE' && python -m course prepare --course-dir '$COURSE'"

# The repository holds the solutions and hidden tests too (source/, and every version in git's
# objects): other accounts must not read them. (The rest stays readable: grading kernels, which run
# as nobody when the grader is root, import the course package from a development checkout.)
chmod o-rwx "$REPO/source"
git_dir="$(git -C "$REPO" rev-parse --git-common-dir 2>/dev/null || true)"
[ -n "$git_dir" ] && chmod o-rwx "$(cd "$REPO" && cd "$git_dir" && pwd)"

cat > "$STATE/hub.env" <<EOF
COURSE_HUB_HOME=$HOME_DIR
COURSE_INSTRUCTOR=$INSTRUCTOR
EOF
say "ready: course in $COURSE (owner $INSTRUCTOR, mode 700), exchange $EXCHANGE, hub state in $STATE"
