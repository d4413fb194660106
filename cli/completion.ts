// `daemonmesh completion bash|zsh`: shell completion for verbs, resources and flags.

import { UsageError } from './errors.js'

const VERBS = 'agent apply approve check completion create delete describe exec fingerprint get join keygen label logs plan resign rollout set taint token version help'
const RESOURCES = 'ds daemonsets pods nodes configmaps secrets endpoints'
const FLAGS = '--agent --token --fingerprint --key -f --filename -n --namespace -A --all-namespaces -l --selector -o --output --cascade --nodes -R --recursive --help'

const BASH = `# bash completion for daemonmesh: source <(daemonmesh completion bash)
_daemonmesh() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
    -f|--filename|--nodes|--key|--config) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
    -o|--output) COMPREPLY=( $(compgen -W "wide json yaml name go-template=" -- "$cur") ); return ;;
  esac
  if [ "$COMP_CWORD" -eq 1 ]; then COMPREPLY=( $(compgen -W "${VERBS}" -- "$cur") ); return; fi
  case "\${COMP_WORDS[1]}" in
    get|describe|delete|label|taint|approve) [ "$COMP_CWORD" -eq 2 ] && { COMPREPLY=( $(compgen -W "${RESOURCES}" -- "$cur") ); return; } ;;
    completion) COMPREPLY=( $(compgen -W "bash zsh" -- "$cur") ); return ;;
  esac
  COMPREPLY=( $(compgen -W "${FLAGS}" -- "$cur") )
}
complete -F _daemonmesh daemonmesh
`

const ZSH = `#compdef daemonmesh
# zsh completion for daemonmesh: source <(daemonmesh completion zsh)
_daemonmesh() {
  if (( CURRENT == 2 )); then compadd ${VERBS}; return; fi
  case "$words[2]" in
    get|describe|delete|label|taint|approve) (( CURRENT == 3 )) && { compadd ${RESOURCES}; return; } ;;
    completion) compadd bash zsh; return ;;
  esac
  compadd -- ${FLAGS}
  _files
}
compdef _daemonmesh daemonmesh
`

export function completionScript(shell: string | undefined): string {
  if (shell === 'bash') return BASH
  if (shell === 'zsh') return ZSH
  throw new UsageError(`completion ${shell ?? ''}: use bash or zsh`)
}
