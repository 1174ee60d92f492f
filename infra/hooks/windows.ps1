# azd on native Windows: the deployment hooks are bash scripts (infra/hooks/*.sh) that need bash,
# envsubst, sha256sum, kubectl, kubelogin, helm and the Spin CLI together, and they are tested on
# Linux only. azure.yaml points every hook's `windows` entry here, so that native azd stops at the
# first hook with this message instead of azd's "'run' is required". Run azd inside WSL instead
# (docs/deploy.md, prerequisites).
Write-Error ("name-api deploys from Linux, macOS or WSL only: the azd hooks are bash scripts. " +
  "Open a WSL shell (wsl --install), install the prerequisites there (docs/deploy.md) " +
  "and run azd up from the repository in WSL.")
exit 1
