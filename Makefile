# llamasweep: `make sweep` runs a sweep and prints its summary; `make test` runs the tests.
# ARGS go to ansible-playbook (e.g. ARGS='-e @my-sweep.yml'); INVENTORY picks a cluster
# (e.g. INVENTORY=inventory/montecimone.yml); RESULTS picks the sweep to summarise.

PYTHON ?= python3
VENV ?= .venv
ARGS ?=
PYTEST_ARGS ?=
INVENTORY ?=
RESULTS ?= results/latest
CLUSTER ?= inventory/montecimone.yml

BIN := $(VENV)/bin
PLAYBOOK := $(BIN)/ansible-playbook $(if $(INVENTORY),-i $(INVENTORY))

.PHONY: help setup setup-dev sweep resume topup collect wait test test-unit lint docs onboard setup-cluster setup-class collect-class slurm-up slurm-down riscv-tools

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: $(VENV)/.installed ## Create .venv from the pinned requirements (once)

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

setup-dev: $(VENV)/.installed-dev ## Add the test and lint tools to .venv

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# The playbook names its own results directory in a file: summarised is this sweep, whatever
# results/latest points at by then.
sweep: setup ## Provision, compile, run every configuration, then summarise that sweep
	results=$$(mktemp) && trap 'rm -f "$$results"' EXIT && \
	  $(PLAYBOOK) playbooks/sweep.yml $(ARGS) -e sweep_results_path_file="$$results" && \
	  $(MAKE) --no-print-directory collect RESULTS="$$(cat "$$results")"

resume: ## Run again the tasks of sweep SWEEP (an id in results/) without an ok result, then summarise it
	@test -n "$(SWEEP)" || { echo 'give the sweep: make resume SWEEP=<sweep id>' >&2; exit 2; }
	$(MAKE) --no-print-directory sweep ARGS='$(ARGS) -e sweep_resume=$(SWEEP)'

topup: ## More repetitions of every noisy configuration (CV above the threshold) of sweep SWEEP, then summarise it
	@test -n "$(SWEEP)" || { echo 'give the sweep: make topup SWEEP=<sweep id>' >&2; exit 2; }
	$(MAKE) --no-print-directory sweep ARGS='$(ARGS) -e sweep_topup=$(SWEEP)'

collect: setup ## Fetch a cluster sweep's results if needed, then summarise (RESULTS, default results/latest)
	$(BIN)/python -m collect fetch $(RESULTS)
	$(BIN)/python -m collect summarize $(RESULTS)

wait: setup ## Wait for a Slurm sweep submitted with -e sweep_wait=false, fetch and summarise it
	$(PLAYBOOK) playbooks/wait.yml $(if $(filter-out results/latest,$(RESULTS)),-e sweep_fetch_results=$(RESULTS)) $(ARGS)
	$(BIN)/python -m collect summarize $(RESULTS)

test: setup-dev ## Run every test (unit, end to end, Slurm, SSH, RISC-V, newcomer, lint)
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: setup-dev ## The fast inner loop: the tests marked unit (no service, no playbook)
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

lint: setup-dev ## ruff, ansible-lint (production profile), playbook syntax checks
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/ansible-lint --profile production
	for playbook in playbooks/*.yml; do $(PLAYBOOK) --syntax-check $$playbook || exit 1; done

docs: setup ## Regenerate the sweep role's argument_specs from its model, then the role READMEs' variable tables
	$(BIN)/python scripts/role_docs.py

onboard: setup ## First contact with the cluster (CLUSTER): confirm its host key, install your SSH key
	$(BIN)/ansible-playbook -i $(CLUSTER) playbooks/onboard.yml --ask-pass \
	  $(if $(MONTECIMONE_USER),-e montecimone_user=$(MONTECIMONE_USER)) $(ARGS)

setup-cluster: setup ## Provision the workspace on the cluster (CLUSTER) and probe its partitions
	$(BIN)/ansible-playbook -i $(CLUSTER) playbooks/setup.yml $(ARGS)

# The instructor's: CLASS_STORE (absolute path) and CLASS_GROUP name the store and the group
# that reads it; INVENTORY picks where (default this machine, a cluster: INVENTORY=$(CLUSTER)).
setup-class: setup ## Provision the class store (CLASS_STORE=/path CLASS_GROUP=group) students' setups read in place
	@test -n "$(CLASS_STORE)" -a -n "$(CLASS_GROUP)" || { echo 'give the store and the class group: make setup-class CLASS_STORE=/path CLASS_GROUP=group' >&2; exit 2; }
	$(PLAYBOOK) playbooks/setup-class.yml -e class_store='$(CLASS_STORE)' -e class_store_group='$(CLASS_GROUP)' $(ARGS)

# The instructor's view: CLASS_SWEEPS, the absolute glob patterns (space-separated) of the
# students' sweep directories on cluster storage; ANONYMISE=1 gives pseudonyms.
collect-class: setup ## Fetch every class sweep you can read (CLASS_SWEEPS='/scratch/course/sweeps/*/*'), write the class report
	@test -n "$(CLASS_SWEEPS)" || { echo "give the students' sweep directories: make collect-class CLASS_SWEEPS='/scratch/course/sweeps/*/*'" >&2; exit 2; }
	patterns=$$($(BIN)/python -c 'import json, sys; print(json.dumps({"class_store_fetch_sweeps": sys.argv[1].split()}))' '$(CLASS_SWEEPS)') && \
	  $(PLAYBOOK) playbooks/fetch-class.yml -e "$$patterns" $(ARGS)
	@# the sweeps whose last unpack was whole (its marker `fetched` written last)
	sweeps=$$(for marker in results/class/sweeps/*/*/fetched; do [ ! -e "$$marker" ] || dirname "$$marker"; done) && \
	  $(BIN)/python -m collect class $$sweeps --out results/class $(if $(ANONYMISE),--anonymise)

slurm-up: ## Start a one-node Slurm on this machine (Debian's slurm-wlm and munge)
	scripts/slurm-local up

slurm-down: ## Stop it
	scripts/slurm-local down

# The emulated RISC-V partition (sweep_emulate): Debian's cross compiler, its OpenMP runtime
# and binutils (objdump counts the vector instructions), and qemu-user to run the binaries.
# libc6-dev-riscv64-cross is only a Recommends of the compiler: named, or --no-install-recommends
# leaves a compiler without stdio.h's headers.
RISCV_TOOLS := gcc-riscv64-linux-gnu libc6-dev-riscv64-cross libgomp1-riscv64-cross \
  binutils-riscv64-linux-gnu qemu-user

riscv-tools: ## Install the RISC-V cross compiler and qemu-user (apt, as root) for the emulated partition
	apt-get install -y --no-install-recommends $(RISCV_TOOLS)
