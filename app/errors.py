"""The one exception tree of contab.

    AppError                      base; carries a stable ``code`` and a pt-BR ``message``
    ├── DomainError               the request or the data breaks a business rule (not retryable)
    │   ├── InvalidInput          malformed / oversized / malicious input
    │   ├── InvalidDocument       a fiscal document that fails parsing or validation
    │   ├── NotFound
    │   ├── Conflict              a unique rule or a state transition forbids it
    │   ├── PermissionDenied      authenticated, but not allowed (wrong empresa scope)
    │   └── Unauthenticated       no or bad credentials
    ├── ConfigError               unsafe or incomplete configuration (lists every problem)
    └── IntegrationError          an external system failed (usually retryable)
        ├── StorageError
        ├── ChannelError          e-mail / WhatsApp delivery; ``permanent`` says retry or stop
        └── UpstreamError         any other dependency (Prefect API, government services)

Adapters translate library errors with ``raise ... from exc``. The API maps the tree to HTTP in
one handler (``app.api.main``); tasks let errors propagate so Prefect records and retries them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "AppError",
    "CATALOGUE",
    "ChannelError",
    "ConfigError",
    "Conflict",
    "DomainError",
    "FILE_TOO_LARGE",
    "IntegrationError",
    "InvalidDocument",
    "InvalidInput",
    "MISSING_DOCUMENTO",
    "MISSING_EMPRESA",
    "MISSING_GUIA",
    "MISSING_NOTIFICACAO",
    "MISSING_SOLICITACAO",
    "MISSING_TAREFA",
    "MISSING_UPLOAD",
    "Missing",
    "NotFound",
    "PermissionDenied",
    "StorageError",
    "Unauthenticated",
    "UpstreamError",
    "file_too_large",
]


class AppError(Exception):
    """Base of every error contab raises on purpose."""

    code: str = "erro_interno"
    http_status: int = 500
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (pt-BR keys, as the API answers it): ``codigo``, ``mensagem`` and
        ``detalhes`` when there are any."""
        out: dict[str, Any] = {"codigo": self.code, "mensagem": self.message}
        if self.details:
            out["detalhes"] = self.details
        return out


class DomainError(AppError):
    code = "regra_violada"
    http_status = 422


class InvalidInput(DomainError):
    code = "entrada_invalida"
    http_status = 422


class InvalidDocument(DomainError):
    code = "documento_invalido"
    http_status = 422


class NotFound(DomainError):
    code = "nao_encontrado"
    http_status = 404


class Missing(NamedTuple):
    """The 404 of one kind of object: the message and code every lookup of that kind answers
    with when an id does not exist — and the API when a client token asks for another
    empresa's object (no existence oracle, ``app.api.scope``)."""

    message: str
    code: str

    def error(self) -> NotFound:
        """A fresh NotFound of this kind."""
        return NotFound(self.message, code=self.code)


MISSING_EMPRESA = Missing("Empresa não encontrada.", "empresa_nao_encontrada")
MISSING_DOCUMENTO = Missing("Documento não encontrado.", "documento_nao_encontrado")
MISSING_UPLOAD = Missing("Envio não encontrado.", "upload_nao_encontrado")
MISSING_GUIA = Missing("Guia não encontrada.", "guia_nao_encontrada")
MISSING_TAREFA = Missing("Tarefa não encontrada.", "tarefa_nao_encontrada")
MISSING_SOLICITACAO = Missing("Solicitação não encontrada.", "solicitacao_nao_encontrada")
MISSING_NOTIFICACAO = Missing("Notificação não encontrada.", "notificacao_nao_encontrada")


FILE_TOO_LARGE = "arquivo_muito_grande"
"""The one code of a file above the size limit (API answers and quarantined upload files)."""


def file_too_large(limit: int) -> InvalidInput:
    """The error of a file larger than ``limit`` bytes."""
    return InvalidInput(
        f"Arquivo maior que o limite de {limit // 1024} KiB.", code=FILE_TOO_LARGE, limite=limit
    )


class Conflict(DomainError):
    code = "conflito"
    http_status = 409


class PermissionDenied(DomainError):
    code = "acesso_negado"
    http_status = 403


class Unauthenticated(DomainError):
    code = "nao_autenticado"
    http_status = 401


class ConfigError(AppError):
    code = "configuracao_invalida"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Configuração insegura ou incompleta:\n- " + "\n- ".join(problems))
        self.problems = problems


class IntegrationError(AppError):
    code = "falha_de_integracao"
    http_status = 502
    retryable = True


class StorageError(IntegrationError):
    code = "falha_no_armazenamento"


class ChannelError(IntegrationError):
    code = "falha_no_canal"

    def __init__(
        self, message: str, *, permanent: bool = False, code: str | None = None, **details: Any
    ) -> None:
        super().__init__(message, code=code, **details)
        self.permanent = permanent
        self.retryable = not permanent


class UpstreamError(IntegrationError):
    code = "falha_em_servico_externo"


# ------------------------------------------------------------------------------ the catalogue
# Every error code contab answers, once, with the HTTP status of its answer and the condition
# it names. One condition has one code (a test scans app/ for codes missing here; the README
# table and the OpenAPI error responses are built from / checked against this dict).
CATALOGUE: dict[str, tuple[int, str]] = {
    # request shape (the framework handlers of app.api.main)
    "corpo_invalido": (400, "Corpo da requisição ilegível (JSON ou multipart malformado)."),
    "requisicao_invalida": (422, "Parâmetro ou campo ausente, de tipo errado ou fora do limite."),
    "data_invalida": (422, "Data que não está no formato ISO AAAA-MM-DD (ou data-hora ISO 8601)."),
    "caractere_invalido": (422, "Texto com caractere nulo (\\u0000)."),
    "entrada_invalida": (422, "Entrada inválida (identificador ou valor fora do intervalo)."),
    "rota_nao_encontrada": (404, "Rota inexistente."),
    "metodo_nao_permitido": (
        405,
        "Método não aceito nesta rota (o cabeçalho Allow lista os aceitos).",
    ),
    "erro_http": (400, "Outro erro HTTP da camada de roteamento."),
    "conflito_de_dados": (409, "Os dados violam uma regra de integridade do banco."),
    "erro_interno": (500, "Erro inesperado; nenhum detalhe interno é exposto."),
    # authentication and scope
    "nao_autenticado": (401, "Credenciais ausentes."),
    "token_invalido": (401, "Token ausente, inválido ou revogado."),
    "token_expirado": (401, "Token expirado."),
    "assinatura_invalida": (401, "Assinatura do webhook do WhatsApp inválida."),
    "acesso_negado": (403, "Operação não permitida a este token."),
    "empresa_fora_do_escopo": (403, "O token não tem acesso a esta empresa (coleção de outra)."),
    "somente_escritorio": (403, "Operação restrita a tokens do escritório."),
    "verificacao_recusada": (403, "Token de verificação do webhook inválido."),
    "link_invalido": (403, "Link assinado adulterado ou malformado."),
    "link_expirado": (403, "Link assinado expirado."),
    "escopo_invalido": (422, "Escopo de token diferente de office/empresa."),
    # missing objects (another empresa's object answers the same to a client token)
    "nao_encontrado": (404, "Objeto inexistente."),
    "empresa_nao_encontrada": (404, "Empresa inexistente."),
    "documento_nao_encontrado": (404, "Documento inexistente."),
    "upload_nao_encontrado": (404, "Envio inexistente."),
    "guia_nao_encontrada": (404, "Guia inexistente."),
    "tarefa_nao_encontrada": (404, "Tarefa inexistente."),
    "solicitacao_nao_encontrada": (404, "Solicitação inexistente."),
    "notificacao_nao_encontrada": (404, "Notificação inexistente."),
    "pedido_nao_encontrado": (404, "Pedido inexistente."),
    "token_nao_encontrado": (404, "Token inexistente."),
    "feriado_nao_encontrado": (404, "Feriado não cadastrado."),
    "item_nao_encontrado": (404, "Item inexistente nesta solicitação."),
    "obrigacao_desconhecida": (404, "Obrigação inexistente no catálogo."),
    "configuracao_desconhecida": (404, "Configuração do escritório inexistente."),
    "arquivo_nao_encontrado": (404, "Arquivo inexistente (ou removido) no armazenamento."),
    "sem_conteudo": (404, "Arquivo recusado na recepção e não armazenado."),
    # files
    "arquivo_muito_grande": (422, "Arquivo acima do limite por arquivo (UPLOAD_MAX_FILE_BYTES)."),
    "limite_total_excedido": (422, "Total do envio acima do limite (UPLOAD_MAX_TOTAL_BYTES)."),
    "arquivo_vazio": (422, "Arquivo vazio."),
    "upload_vazio": (422, "Envio sem nenhum arquivo."),
    "arquivos_demais": (422, "Arquivos demais numa só chamada."),
    "tipo_de_arquivo_invalido": (422, "Tipo de arquivo não aceito (PDF, PNG ou JPEG)."),
    "tipo_de_pedido_desconhecido": (422, "Tipo de pedido inexistente no catálogo."),
    "situacao_invalida": (422, "Situação de pedido desconhecida."),
    # per-attachment quarantine codes of orders (recorded on the attachment, app.orders.sniff)
    "tipo_de_anexo_nao_aceito": (422, "Anexo que não é PDF, imagem, XML, .zip nem Office."),
    "executavel_disfarcado": (422, "Anexo que é um programa executável."),
    "pdf_com_javascript": (422, "PDF com JavaScript ou ação automática."),
    "pdf_com_arquivo_embutido": (422, "PDF com arquivos embutidos."),
    "documento_invalido": (422, "Documento fiscal que não passa na leitura ou na validação."),
    "documento_de_outra_empresa": (422, "Documento fiscal de outra empresa."),
    "chave_invalida": (422, "Chave de acesso com tamanho ou caracteres inválidos."),
    "chave_dv_invalido": (422, "Dígito verificador da chave de acesso incorreto."),
    "chave_de_armazenamento_invalida": (502, "Caminho de armazenamento inválido."),
    # business rules
    "regra_violada": (422, "Regra de negócio violada."),
    "cnpj_invalido": (422, "CNPJ inválido."),
    "uf_invalida": (422, "UF inválida ou que não é a do município."),
    "ibge_invalido": (422, "Código IBGE de município inválido."),
    "regime_desconhecido": (422, "Regime tributário desconhecido."),
    "competencia_invalida": (422, "Competência que não está no formato AAAA-MM (ou MM/AAAA)."),
    "competencia_sem_obrigacao": (422, "Competência fora da vigência da obrigação."),
    "campo_obrigatorio": (422, "Campo obrigatório nulo."),
    "campo_nao_editavel": (422, "Campo que não pode ser alterado."),
    "campo_desconhecido": (422, "Campo desconhecido numa configuração."),
    "configuracao_invalida": (422, "Valor de configuração inválido (ou configuração insegura)."),
    "caracteristica_desconhecida": (422, "Característica de empresa desconhecida."),
    "responsavel_desconhecido": (422, "Responsável (equipe) inexistente."),
    "motivo_obrigatorio": (422, "Motivo ausente ou curto demais (auditoria)."),
    "nome_invalido": (422, "Nome vazio ou longo demais."),
    "valor_invalido": (422, "Valor monetário ou numérico inválido."),
    "anexo_invalido": (422, "Anexo do Simples Nacional inválido."),
    "origem_invalida": (422, "Origem de lançamento inválida (ajuste ou historico)."),
    "excede_limite_simples": (422, "Receita acima do limite do Simples Nacional."),
    "antes_abertura": (422, "Competência anterior à abertura da empresa."),
    "sem_anexo": (422, "Empresa do Simples sem anexo definido."),
    "data_futura": (422, "Data no futuro."),
    "obrigacao_invalida": (422, "Definição de obrigação inválida."),
    "sobrescrita_invalida": (422, "Sobrescrita de regra de obrigação inválida."),
    "item_desconhecido": (422, "Código de item que a solicitação não tem."),
    "guia_sem_documento": (422, "Guia sem linha digitável, PIX nem documento oficial."),
    "webhook_invalido": (422, "Corpo do webhook que não é JSON."),
    "json_invalido": (422, "Texto que não é JSON (linha de comando)."),
    # state conflicts
    "conflito": (409, "O estado atual não permite a operação."),
    "empresa_ja_cadastrada": (409, "CNPJ já cadastrado."),
    "obrigacao_duplicada": (409, "Já existe uma obrigação com este código."),
    "obrigacao_do_catalogo": (409, "Obrigação do catálogo oficial (só as personalizadas mudam)."),
    "guia_cancelada": (409, "Guia cancelada."),
    "guia_ja_enviada": (409, "Guia já enviada; corrija e use o reenvio."),
    "guia_sem_envio": (409, "Guia ainda não enviada (nada a reenviar)."),
    "sem_destinatario": (409, "Empresa sem destinatário para a mensagem."),
    "solicitacao_encerrada": (409, "Solicitação já encerrada."),
    "pedido_encerrado": (409, "Pedido já concluído ou cancelado."),
    "transicao_invalida": (409, "Mudança de situação que o fluxo do pedido não permite."),
    "anexo_em_quarentena": (409, "Anexo em quarentena (só o escritório o baixa)."),
    "tarefa_ja_concluida": (409, "Tarefa já concluída."),
    "tarefa_dispensada": (409, "Tarefa dispensada."),
    "notificacao_nao_reenfileiravel": (409, "Só notificações que falharam voltam à fila."),
    # external systems
    "falha_de_integracao": (502, "Falha num sistema externo."),
    "falha_no_armazenamento": (502, "Falha no armazenamento de arquivos."),
    "falha_no_canal": (502, "Falha no envio por e-mail ou WhatsApp."),
    "falha_em_servico_externo": (502, "Falha em outro serviço externo (Prefect, governo)."),
    # backups (command line)
    "backup_falhou": (502, "O pg_dump (ou mariadb-dump) falhou."),
    "backup_sem_pg_dump": (502, "pg_dump (ou mariadb-dump) não encontrado."),
    "backup_sem_listagem": (502, "O destino de backups não lista os arquivos."),
    "backup_corrompido": (502, "Cópia de segurança corrompida (soma de verificação)."),
    "restauracao_falhou": (502, "A restauração falhou."),
    "restauracao_banco_existe": (502, "O banco de destino da restauração já existe."),
    "restauracao_banco_vivo": (502, "Restauração recusada sobre o banco em uso."),
    "restauracao_nome_invalido": (502, "Nome de banco de destino inválido."),
    "restauracao_sem_alvo": (422, "Restauração parcial sem empresa nem módulo."),
    "modulo_desconhecido": (422, "Módulo de restauração desconhecido."),
    "backup_inexistente": (404, "Não há cópia de segurança da data pedida."),
    "empresa_desconhecida": (404, "CNPJ ausente da cópia de segurança."),
}
"""code → (HTTP status of the answer, the condition it names, pt-BR)."""
