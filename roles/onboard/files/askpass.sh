#!/bin/sh
# SSH_ASKPASS for ssh-keygen and ssh-add: the passphrase comes from this process's environment (set for one
# task, never written anywhere).
printf '%s\n' "$ONBOARD_KEY_PASSPHRASE"
