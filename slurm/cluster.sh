#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for developers and CI: start | stop | status.
#
# start: installs the Debian packages if missing (slurmctld slurmd slurm-client munge slurmdbd mariadb-server),
#        writes /etc/slurm/{slurm,slurmdbd}.conf, starts munged, MariaDB, slurmdbd (accounting: submitit needs
#        sacct), slurmctld and slurmd by hand (no systemd needed), and waits until the node is idle.
#        Idempotent: what already runs is reused; daemons restart only when their config changed.
# stop:  cancels every job and stops the daemons by the process ids in their pid files.
# Needs root on Debian 12 (slurm 22.05). Exit codes: 0 ok, 3 cannot run here (not root / not Debian), 1 failed.
set -euo pipefail

NODE=$(hostname -s)
CONF_DIR=/etc/slurm
RUN_DIR=/run/slurm
SPOOL=/var/spool/slurmctld
DB_PASSWORD=dawm-bench-local
PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)

log() { echo "[slurm/cluster.sh] $*" >&2; }
alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2; shift 2
    for _ in $(seq $((limit * 2))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
    log "timed out after ${limit}s waiting for $what"; return 1
}

can_run() {
    [[ $(id -u) -eq 0 ]] || { log "needs root"; return 3; }
    command -v apt-get >/dev/null && [[ -f /etc/debian_version ]] || { log "needs Debian (apt-get)"; return 3; }
}

install_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    ((${#missing[@]} == 0)) && return 0
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

write_if_changed() {  # write_if_changed FILE OWNER MODE < content; returns 0 if the file changed
    local file=$1 owner=$2 mode=$3 new; new=$(cat)
    if [[ -f $file ]] && [[ "$(cat "$file")" == "$new" ]]; then return 1; fi
    printf '%s\n' "$new" > "$file"; chown "$owner" "$file"; chmod "$mode" "$file"
    return 0
}

configure() {
    local cpus memory changed=1
    cpus=$(nproc); memory=$(( $(free -m | awk '/^Mem:/ {print $2}') - 1024 ))
    mkdir -p "$CONF_DIR" "$RUN_DIR" "$SPOOL" /var/spool/slurmd /var/log/slurm /run/munge /run/mysqld
    chown slurm: "$RUN_DIR" "$SPOOL" /var/spool/slurmd /var/log/slurm; chown munge: /run/munge
    chown mysql: /run/mysqld
    write_if_changed "$CONF_DIR/slurm.conf" root:root 644 <<CONF && changed=0
ClusterName=local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=10
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
SchedulerParameters=bf_interval=5
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
StateSaveLocation=$SPOOL
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ReturnToService=2
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
    write_if_changed "$CONF_DIR/slurmdbd.conf" slurm:slurm 600 <<CONF || true
AuthType=auth/munge
DbdHost=$NODE
DbdAddr=127.0.0.1
SlurmUser=slurm
PidFile=$RUN_DIR/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=$DB_PASSWORD
CONF
    return $changed
}

start_munge() {
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
    wait_for 10 munged bash -c 'munge -n | unmunge'
}

start_mariadb() {
    if ! mariadb-admin --socket=/run/mysqld/mysqld.sock ping >/dev/null 2>&1; then
        [[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql >/dev/null
        nohup mariadbd --user=mysql --skip-networking --socket=/run/mysqld/mysqld.sock \
            --pid-file=/run/mysqld/mysqld.pid >/var/log/slurm/mariadb.log 2>&1 &
        wait_for 30 MariaDB mariadb-admin --socket=/run/mysqld/mysqld.sock ping
    fi
    mariadb --socket=/run/mysqld/mysqld.sock -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
}

start_slurm() {  # start_slurm RESTART(0/1)
    local restart=$1
    if ! alive "$RUN_DIR/slurmdbd.pid"; then slurmdbd; fi
    wait_for 30 slurmdbd sacctmgr -n show cluster
    if [[ $restart == 1 ]]; then stop_pidfile slurmd "$RUN_DIR/slurmd.pid"; stop_pidfile slurmctld "$RUN_DIR/slurmctld.pid"; fi
    alive "$RUN_DIR/slurmctld.pid" || slurmctld
    wait_for 30 slurmctld bash -c 'scontrol ping | grep -q UP'
    alive "$RUN_DIR/slurmd.pid" || slurmd -N "$NODE"
    wait_for 60 "node $NODE" bash -c "sinfo -h -n $NODE -o %T | grep -q -E '^(idle|mixed|allocated)'" || {
        scontrol update NodeName="$NODE" State=RESUME || true
        wait_for 30 "node $NODE" bash -c "sinfo -h -n $NODE -o %T | grep -q -E '^(idle|mixed|allocated)'"
    }
}

stop_pidfile() {  # stop_pidfile NAME PIDFILE: SIGTERM, wait up to 20 s, then SIGKILL
    local name=$1 file=$2 pid
    alive "$file" || return 0
    pid=$(cat "$file"); kill "$pid" 2>/dev/null || true
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || { log "stopped $name"; return 0; }; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true; log "killed $name"
}

case ${1:-} in
    start)
        can_run || exit $?
        install_packages
        restart=0; if configure; then restart=1; fi  # 0: a config file changed
        start_munge; start_mariadb; start_slurm "$restart"
        log "node $NODE is up: $(sinfo -h -o '%P %a %D %T')";;
    stop)
        can_run || exit $?
        command -v scancel >/dev/null && scancel --user "$(id -un)" 2>/dev/null || true
        stop_pidfile slurmd "$RUN_DIR/slurmd.pid"; stop_pidfile slurmctld "$RUN_DIR/slurmctld.pid"
        stop_pidfile slurmdbd "$RUN_DIR/slurmdbd.pid"; stop_pidfile mariadb /run/mysqld/mysqld.pid
        stop_pidfile munged /run/munge/munged.pid;;
    status)
        for d in slurmd:$RUN_DIR/slurmd.pid slurmctld:$RUN_DIR/slurmctld.pid slurmdbd:$RUN_DIR/slurmdbd.pid \
                 mariadb:/run/mysqld/mysqld.pid munged:/run/munge/munged.pid; do
            alive "${d#*:}" && echo "${d%%:*} up" || echo "${d%%:*} down"
        done
        command -v sinfo >/dev/null && sinfo 2>/dev/null || true;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2;;
esac
