#!/bin/sh
# SSH_ASKPASS for ssh-keygen and ssh-add: one line of the standard input they pass on (a pipe
# from the onboarding task) for each question. `read` takes one line and no more from a pipe.
IFS= read -r passphrase
printf '%s\n' "$passphrase"
