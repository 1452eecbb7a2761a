# Installs msm on Windows from a release:
#   irm https://github.com/mcp-session-manager/msm/releases/latest/download/install.ps1 | iex
#   & ([scriptblock]::Create((irm .../install.ps1))) -Version 0.2.0 -Dir C:\Tools
# Picks the x64 build (baseline on CPUs without AVX2), checks the zip against the release's SHA256SUMS and refuses
# on a mismatch, then puts msm.exe in ~\.local\bin (or -Dir) and adds that folder to the user's PATH.
#   MSM_INSTALL_BASE_URL  a folder (URL) holding a release: SHA256SUMS and the archives (mirrors, tests)
#   MSM_INSTALL_DIR       where msm.exe goes (default ~\.local\bin)
param(
  [string]$Version = "",
  [string]$Dir = "",
  [string]$Target = ""
)
$ErrorActionPreference = "Stop"
$ProgressPreference = "SilentlyContinue" # Invoke-WebRequest's progress bar slows downloads tenfold on PowerShell 5
$Repo = "mcp-session-manager/msm"

# throw, not exit: run through `irm | iex`, exit would close the user's PowerShell window.
function Fail($message) { throw "msm install: $message" }

$Version = $Version.TrimStart("v")
if (-not $Dir) { $Dir = $env:MSM_INSTALL_DIR }
if (-not $Dir) { $Dir = Join-Path $HOME ".local\bin" }

if (-not $Target) {
  $arch = $env:PROCESSOR_ARCHITEW6432
  if (-not $arch) { $arch = $env:PROCESSOR_ARCHITECTURE }
  if ($arch -ne "AMD64" -and $arch -ne "ARM64") { Fail "no msm build for the $arch CPU; build from source (npm ci && npm run build)" }
  # Windows on ARM runs the x64 build under emulation; there is no native arm64 build yet.
  # Bun's default x64 build uses AVX2 (PF_AVX2_INSTRUCTIONS_AVAILABLE = 40); without it, the baseline build.
  $avx2 = $true
  try {
    Add-Type -Namespace Msm -Name Cpu -MemberDefinition '[DllImport("kernel32.dll")] public static extern bool IsProcessorFeaturePresent(uint feature);' -ErrorAction Stop
    $avx2 = [Msm.Cpu]::IsProcessorFeaturePresent(40)
  } catch {}
  $Target = if ($avx2) { "windows-x64" } else { "windows-x64-baseline" }
}

if ($env:MSM_INSTALL_BASE_URL) { $Base = $env:MSM_INSTALL_BASE_URL.TrimEnd("/") }
elseif ($Version) { $Base = "https://github.com/$Repo/releases/download/v$Version" }
else { $Base = "https://github.com/$Repo/releases/latest/download" }

$Tmp = Join-Path ([System.IO.Path]::GetTempPath()) ("msm-install-" + [System.Guid]::NewGuid().ToString("N"))
New-Item -ItemType Directory -Path $Tmp | Out-Null
try {
  try { Invoke-WebRequest -UseBasicParsing -Uri "$Base/SHA256SUMS" -OutFile "$Tmp\SHA256SUMS" }
  catch { Fail "could not download $Base/SHA256SUMS (is the version right? is the network up?)" }
  $pattern = if ($Version) { "^([0-9a-f]{64})  (msm-$([regex]::Escape($Version))-$Target\.zip)$" } else { "^([0-9a-f]{64})  (msm-\S+-$Target\.zip)$" }
  $line = Get-Content "$Tmp\SHA256SUMS" | Where-Object { $_ -match $pattern } | Select-Object -Last 1
  if (-not $line) { Fail "the release at $Base has no build for $Target (see SHA256SUMS there)" }
  $null = $line -match $pattern
  $Expected = $Matches[1]
  $Name = $Matches[2]

  Write-Host "downloading $Name"
  try { Invoke-WebRequest -UseBasicParsing -Uri "$Base/$Name" -OutFile "$Tmp\$Name" }
  catch { Fail "could not download $Base/$Name" }
  $Actual = (Get-FileHash -Algorithm SHA256 "$Tmp\$Name").Hash.ToLowerInvariant()
  if ($Actual -ne $Expected) {
    Fail "checksum mismatch for ${Name}: SHA256SUMS says $Expected, the download is $Actual. Nothing was installed; the download may be corrupt or tampered with."
  }

  Expand-Archive -Path "$Tmp\$Name" -DestinationPath "$Tmp\x" -Force
  if (-not (Test-Path "$Tmp\x\msm.exe")) { Fail "$Name holds no msm.exe" }
  # Downloads carry the internet zone mark (SmartScreen asks before running them); this one was checksummed.
  Unblock-File "$Tmp\x\msm.exe"

  New-Item -ItemType Directory -Force -Path $Dir | Out-Null
  $Exe = Join-Path $Dir "msm.exe"
  $Previous = ""
  if (Test-Path $Exe) {
    $Previous = (& $Exe --version 2>$null) -join ""
    # A running msm.exe cannot be overwritten on Windows, but it can be renamed: move it aside first.
    $Old = "$Exe.old"
    Remove-Item -Force -ErrorAction SilentlyContinue $Old
    Move-Item -Force $Exe $Old
  }
  Copy-Item "$Tmp\x\msm.exe" $Exe
  $Now = (& $Exe --version 2>$null) -join ""
  if (-not $Now) { Fail "installed $Exe but it does not run on this machine (target $Target); try -Target windows-x64-baseline" }

  if ($Previous) {
    Write-Host "upgraded ${Exe}: $Previous -> $Now"
    Write-Host "daemons already running keep the old version until you run: msm restart --all"
  } else {
    Write-Host "installed ${Exe}: $Now"
  }
  $UserPath = [Environment]::GetEnvironmentVariable("Path", "User")
  if (-not (($UserPath -split ";") -contains $Dir)) {
    [Environment]::SetEnvironmentVariable("Path", (@($UserPath, $Dir) | Where-Object { $_ }) -join ";", "User")
    Write-Host "added $Dir to your PATH (open a new terminal to use it)"
  }
  Write-Host "next: msm install    (adds msm to your editors' MCP config)"
} finally {
  Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $Tmp
}
