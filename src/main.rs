fn main() -> anyhow::Result<()> {
    anyhow::bail!("app-rust: the service is not wired up yet")
}
